"""The auditor's side of the approval history: search, exports, verification bundles, and the
periodic check of every chain. Reads in ``selectors``, writes in ``services``."""
