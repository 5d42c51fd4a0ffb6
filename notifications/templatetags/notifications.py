from django import template

from .. import selectors

register = template.Library()


@register.simple_tag
def notification_standing(user) -> selectors.Standing:
    """The header's badge and where a page's live connection starts, in one statement."""
    return selectors.standing_of(user)
