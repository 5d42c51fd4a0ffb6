"""Check every signature of a contract's document with pyHanko; exit 1 when one is broken or
anything was added after Accord's seal (named: drawings, annotations, fields, pages, bytes)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from signatures.selectors import contract_document, document_verify, signature_evidence
from workflows.models import Contract


class Command(BaseCommand):
    help = (
        "Report each signature of the contract's document (who, for whom, when, intact or "
        "not, certificate chain); exit 1 when the document or a signature is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument("reference", metavar="REF", help="The contract's reference.")
        parser.add_argument(
            "--file",
            type=Path,
            help="Check this copy of the PDF instead of the stored one (e.g. a received copy).",
        )

    def handle(self, *args, reference: str, file: Path | None = None, **options):
        contract = Contract.objects.filter(reference=reference).first()
        if contract is None:
            raise CommandError(f'No contract with reference "{reference}".')
        document = contract_document(contract)
        if document is None:
            raise CommandError(
                f"{reference} has no document yet: its deliberation is not recorded."
            )
        pdf = file.read_bytes() if file else bytes(document.pdf)
        result = document_verify(pdf, frozen=document)
        evidence = {
            e.field_name: e for e in signature_evidence(contract) if e.document_id == document.pk
        }
        self.stdout.write(
            f"{reference} version {document.contract_version}: {len(pdf)} bytes, "
            f"SHA-256 {result.sha256}"
        )
        self.stdout.write(f"  frozen document SHA-256 {document.sha256}")
        if result.frozen_prefix_intact is False:
            self.stdout.write("  BROKEN: the frozen document is no longer the file's beginning")
        if not result.readable:
            raise CommandError(f"{reference}: BROKEN: not a readable PDF ({result.error})")
        for check in result.signatures:
            record = evidence.get(check.field_name)
            if record is not None:
                who = record.signed_by_name
                whom = (
                    record.organisation
                    if record.signed_by_id == record.signer_id
                    else f"{record.signer_name}, {record.organisation}"
                )
            else:
                who, whom = check.signer, check.reason
            when = (
                timezone.localtime(check.signed_at).isoformat(timespec="seconds")
                if check.signed_at
                else "?"
            )
            if check.ok:
                state = "intact"
            elif check.intact and check.valid and check.modifications_allowed is False:
                state = "intact, but changed after it beyond what it allows"
            else:
                state = "BROKEN"
            self.stdout.write(
                f"  {check.field_name}: {state}; signed by {who} for {whom} at {when}; "
                f"certificate {check.signer} ({check.certificate_sha256[:16]}); "
                f"chain {' > '.join(check.chain)}"
                f"{' (trusted)' if check.trusted else ' (not trusted)'}"
                f"{'; ' + check.error if check.error else ''}"
            )
            if check.timestamp_trusted is not None:
                stamped = timezone.localtime(check.timestamped_at).isoformat(timespec="seconds")
                self.stdout.write(
                    f"    timestamp: {stamped} by {check.timestamp_authority}"
                    f"{' (trusted)' if check.timestamp_trusted else ' (NOT trusted)'}"
                )
            if record is not None and record.mandate_reference:
                self.stdout.write(f"    mandate: {record.mandate_reference} {record.mandate_date}")
        if not result.signatures:
            self.stdout.write("  no signature yet")
        if result.changes:
            after = "Accord's seal" if result.sealed else "the last signature"
            with translation.override("en"):
                named = "; ".join(change.description for change in result.changes)
            self.stdout.write(f"  MODIFIED after {after}: {named}")
            raise CommandError(
                f"{reference}: the document was modified after its "
                f"{'seal' if result.sealed else 'last signature'}.",
                returncode=1,
            )
        if result.missing:
            with translation.override("en"):
                named = "; ".join(missing.description for missing in result.missing)
            self.stdout.write(f"  INCOMPLETE: this copy lacks {named}")
            raise CommandError(
                f"{reference}: not the document Accord issued: part of it is missing ({named}).",
                returncode=1,
            )
        if not result.ok and (result.signatures or result.frozen_prefix_intact is False):
            raise CommandError(f"{reference}: the document is broken.", returncode=1)
        if result.signatures:
            self.stdout.write(f"{reference}: OK ({len(result.signatures)} signatures)")
