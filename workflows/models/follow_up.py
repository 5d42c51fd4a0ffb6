"""What a signed contract's follow-up records: the values its actions' indicators take, year
after year, as their pilots measure them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contracts import Action


class IndicatorValue(models.Model):
    """An indicator's value for one year.

    The indicator is named by its name within its sheet (life.md), not by its row: a sheet's
    indicators are written anew with each version of the sheet, their values stay.
    """

    action = models.ForeignKey(
        Action,
        verbose_name=_("action"),
        on_delete=models.PROTECT,
        related_name="indicator_values",
    )
    indicator = models.CharField(_("indicator"), max_length=500)
    year = models.PositiveSmallIntegerField(_("year"))
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=4)
    measured_on = models.DateField(_("measured on"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=300, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        ordering = ["action", "indicator", "year"]
        verbose_name = _("indicator value")
        verbose_name_plural = _("indicator values")
        constraints = [
            models.UniqueConstraint(
                fields=["action", "indicator", "year"], name="indicator_value_once_a_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.indicator} {self.year}: {self.value}"
