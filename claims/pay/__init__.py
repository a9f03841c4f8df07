"""The payment stage: what the law allows for every line and claim (§1.13, §2).

Per line, with the quantity the rules accepted (cap/adjust) and the payable unit price
(the lower of claimed and catalog, 0 out of catalog):

1. service ratio TYLE_TT_DV by law: exams ranked by price per claim and day get the
   ``exam_ratio`` row of their rank (100/30/30/30/10/0); surgeries and procedures of a
   claim and day, ranked by amount, get 100 for the first and the ``procedure_ratio`` of
   their kind and team after it (same NGUOI_THUC_HIEN set = same team); bed-days keep a
   claimed shared-bed ratio of the ``bed_ratio`` rows (floored to the nearest one); the
   rest keep the claimed ratio, at most 100;
2. payment ratio TYLE_TT_BH: the catalog's (100 where it has none; 100 for a card level
   whose ``level_rule`` ignores payment ratios);
3. THANH_TIEN_BV = qty × price_bv × ratio_dv; THANH_TIEN_BH = qty × payable price ×
   ratio_dv × ratio_bh, each product rounded half-up to 2 decimals (``claims.money``);
   out-of-scope lines (PHAM_VI 2, or 3 without a ``level_rule`` allowing it) have no BH
   part; PHAM_VI 3 on such a card is paid by the budget;
4. supplies ceiling: the in-scope supplies (MA_NHOM 10, 11) of one GOI_VTYT package are
   capped at ``supplies_ceiling_multiple`` × base salary; the excess is spread over the
   package's lines in proportion to their amounts (cumulative rounding, so the cuts add
   up exactly) and moves to self-pay.

Per claim, MUC_HUONG and who pays what of each line: see :mod:`claims.pay.shares`.

Every date choice comes from ``claims.dates``; every figure from the ``benefits`` and
``base_salary`` catalogs.

Modules: ``lines`` (the lines, their amounts, exact money), ``ratios`` (1, 2),
``ceiling`` (4 and :func:`allocate`), ``shares`` (the claim's facts, MUC_HUONG, the
shares) and ``stage`` (:func:`pay`, :class:`Payment` and their schemas).
"""

from claims.pay.ceiling import allocate
from claims.pay.lines import AMOUNTS, money, percent_of, times
from claims.pay.shares import claim_facts
from claims.pay.stage import PAY_CLAIM_SCHEMA, PAY_LINE_SCHEMA, Payment, pay

__all__ = [
    "AMOUNTS",
    "PAY_CLAIM_SCHEMA",
    "PAY_LINE_SCHEMA",
    "Payment",
    "allocate",
    "claim_facts",
    "money",
    "pay",
    "percent_of",
    "times",
]
