from django import template

from .. import selectors

register = template.Library()


@register.simple_tag
def unread_notification_count(user) -> int:
    """The header's badge: how many notifications this person has not read."""
    return selectors.unread_count(user)


@register.simple_tag
def last_notification_id(user) -> int:
    """Where a page's live connection starts: nothing after it is missed."""
    return selectors.last_id(user)
