"""The QĐ 130/4750 exchange tables as data: element names, kinds, sizes, required, code lists.

Every field of XML1–XML5 is declared once here (domain reference §1.6–§1.10), XML6–XML15
in :mod:`claims.xml130_docs` (§1.11); the ingest, validation and generator modules read
these declarations instead of repeating element names.
Column names in frames are the element names lower-cased (``MA_LK`` → ``ma_lk``).
"""

from __future__ import annotations

from claims.xml130_docs import DOC_SPECS
from claims.xml130_spec import Field as Field
from claims.xml130_spec import Kind as Kind
from claims.xml130_spec import TableSpec as TableSpec
from claims.xml130_spec import spec_field

T, C, I, P, M, Q = Kind.TEXT, Kind.CODE, Kind.INT, Kind.PCT, Kind.MONEY, Kind.QTY  # noqa: E741
D, DT = Kind.DATE, Kind.DATETIME
_f = spec_field


_OTHER_SOURCES = (
    _f("T_NGUONKHAC_NSNN", M),
    _f("T_NGUONKHAC_VTNN", M),
    _f("T_NGUONKHAC_VTTN", M),
    _f("T_NGUONKHAC_CL", M),
    _f("T_NGUONKHAC", M),
)

XML1 = TableSpec(
    "XML1",
    "TONG_HOP",
    (),
    (
        _f("MA_LK", T, 100, True),
        _f("STT", I, 10, True),
        _f("MA_BN", T, 100, True, pii=True),
        _f("HO_TEN", T, 255, True, pii=True),
        _f("SO_CCCD", T, 15, pii=True),
        _f("NGAY_SINH", Kind.BIRTH, 12, True),
        _f("GIOI_TINH", C, 1, True, "GIOI_TINH"),
        _f("NHOM_MAU", T, 10),
        _f("MA_QUOCTICH", C, 3),
        _f("MA_DANTOC", C, 2),
        _f("MA_NGHE_NGHIEP", C, 5),
        _f("DIA_CHI", T, 1024, pii=True),
        _f("MATINH_CU_TRU", C, 3),
        _f("MAHUYEN_CU_TRU", C, 3),
        _f("MAXA_CU_TRU", C, 5),
        _f("DIEN_THOAI", T, 15, pii=True),
        _f("MA_THE_BHYT", T, None, True, pii=True),
        _f("MA_DKBD", T),
        _f("GT_THE_TU", T, None, True),
        _f("GT_THE_DEN", T, None, True),
        _f("NGAY_MIEN_CCT", Kind.DATE_OR_DATETIME, 12),
        _f("LY_DO_VV", T),
        _f("LY_DO_VNT", T),
        _f("MA_LY_DO_VNT", C, 5),
        _f("CHAN_DOAN_VAO", T),
        _f("CHAN_DOAN_RV", T),
        _f("MA_BENH_CHINH", C, 7, True),
        _f("MA_BENH_KT", T, 100),
        _f("MA_BENH_YHCT", T, 255),
        _f("MA_PTTT_QT", T, 125),
        _f("MA_DOITUONG_KCB", C, 4, True, "MA_DOITUONG_KCB"),
        _f("MA_NOI_DI", C, 5),
        _f("MA_NOI_DEN", C, 5),
        _f("MA_TAI_NAN", C, 1),
        _f("NGAY_VAO", DT, 12, True),
        _f("NGAY_VAO_NOI_TRU", DT, 12),
        _f("NGAY_RA", DT, 12, True),
        _f("GIAY_CHUYEN_TUYEN", T, 50),
        _f("SO_NGAY_DTRI", I, 3, True),
        _f("PP_DIEU_TRI", T),
        _f("KET_QUA_DTRI", C, 1, True, "KET_QUA_DTRI"),
        _f("MA_LOAI_RV", C, 1, True, "MA_LOAI_RV"),
        _f("GHI_CHU", T),
        _f("NGAY_TTOAN", DT, 12),
        _f("T_THUOC", M),
        _f("T_VTYT", M),
        _f("T_TONGCHI_BV", M, None, True),
        _f("T_TONGCHI_BH", M, None, True),
        _f("T_BNTT", M, None, True),
        _f("T_BNCCT", M, None, True),
        _f("T_BHTT", M, None, True),
        _f("T_NGUONKHAC", M),
        _f("T_BHTT_GDV", M),
        _f("NAM_QT", I, 4, True),
        _f("THANG_QT", I, 2, True),
        _f("MA_LOAI_KCB", C, 2, True, "MA_LOAI_KCB"),
        _f("MA_KHOA", T, 50, True),
        _f("MA_CSKCB", C, 5, True),
        _f("MA_KHUVUC", C, 2, codes="MA_KHUVUC"),
        _f("CAN_NANG", Kind.WEIGHT, 6),
        _f("CAN_NANG_CON", T, 100),
        _f("NAM_NAM_LIEN_TUC", D, 8),
        _f("NGAY_TAI_KHAM", T, 50),
        _f("MA_HSBA", T, 100),
        _f("MA_TTDV", C, 10),
        _f("DU_PHONG", T),
    ),
)

XML2 = TableSpec(
    "XML2",
    "CHITIEU_CHITIET_THUOC",
    ("DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
    (
        _f("MA_LK", T, 100, True),
        _f("STT", I, 10, True),
        _f("MA_THUOC", C, 255, True),
        _f("MA_PP_CHEBIEN", T, 255),
        _f("MA_CSKCB_THUOC", T, 10),
        _f("MA_NHOM", C, 2, True, "MA_NHOM"),
        _f("TEN_THUOC", T, 1024, True),
        _f("DON_VI_TINH", T, 50),
        _f("HAM_LUONG", T, 1024),
        _f("DUONG_DUNG", C, 4),
        _f("DANG_BAO_CHE", T, 1024),
        _f("LIEU_DUNG", T, 1024),
        _f("CACH_DUNG", T, 1024),
        _f("SO_DANG_KY", T, 255),
        _f("TT_THAU", T, 50),
        _f("PHAM_VI", C, 1, True, "PHAM_VI"),
        _f("TYLE_TT_BH", P, 3, True),
        _f("SO_LUONG", Q, None, True),
        _f("DON_GIA", Q, None, True),
        _f("THANH_TIEN_BV", M, None, True),
        _f("THANH_TIEN_BH", M, None, True),
        *_OTHER_SOURCES,
        _f("MUC_HUONG", P, 3, True),
        _f("T_BHTT", M, None, True),
        _f("T_BNCCT", M, None, True),
        _f("T_BNTT", M, None, True),
        _f("MA_KHOA", T, 50, True),
        _f("MA_BAC_SI", T, 255),
        _f("MA_DICH_VU", T, 255),
        _f("NGAY_YL", DT, 12, True),
        _f("NGAY_TH_YL", DT, 12),
        _f("MA_PTTT", C, 1, codes="MA_PTTT"),
        _f("NGUON_CTRA", C, 1, codes="NGUON_CTRA"),
        _f("VET_THUONG_TP", C, 1, codes="VET_THUONG_TP"),
        _f("DU_PHONG", T),
    ),
)

XML3 = TableSpec(
    "XML3",
    "CHITIEU_CHITIET_DVKT_VTYT",
    ("DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
    (
        _f("MA_LK", T, 100, True),
        _f("STT", I, 10, True),
        _f("MA_DICH_VU", C, 50),
        _f("MA_PTTT_QT", T, 255),
        _f("MA_VAT_TU", C, 255),
        _f("MA_NHOM", C, 2, True, "MA_NHOM"),
        _f("GOI_VTYT", T, 3),
        _f("TEN_VAT_TU", T, 1024),
        _f("TEN_DICH_VU", T, 1024),
        _f("MA_XANG_DAU", T, 20),
        _f("DON_VI_TINH", T, 50),
        _f("PHAM_VI", C, 1, True, "PHAM_VI"),
        _f("SO_LUONG", Q, None, True),
        _f("DON_GIA_BV", Q, None, True),
        _f("DON_GIA_BH", Q, None, True),
        _f("TT_THAU", T, 50),
        _f("TYLE_TT_DV", P, 3, True),
        _f("TYLE_TT_BH", P, 3, True),
        _f("THANH_TIEN_BV", M, None, True),
        _f("THANH_TIEN_BH", M, None, True),
        _f("T_TRANTT", M),
        *_OTHER_SOURCES,
        _f("MUC_HUONG", P, 3, True),
        _f("T_BHTT", M, None, True),
        _f("T_BNCCT", M, None, True),
        _f("T_BNTT", M, None, True),
        _f("MA_KHOA", T, 50, True),
        _f("MA_GIUONG", T, 50),
        _f("MA_BAC_SI", T, 255),
        _f("NGUOI_THUC_HIEN", T, 255),
        _f("MA_BENH", T, 100),
        _f("MA_BENH_YHCT", T, 255),
        _f("NGAY_YL", DT, 12, True),
        _f("NGAY_TH_YL", DT, 12),
        _f("NGAY_KQ", DT, 12),
        _f("MA_PTTT", C, 1, codes="MA_PTTT"),
        _f("VET_THUONG_TP", C, 1, codes="VET_THUONG_TP"),
        _f("PP_VO_CAM", C, 1, codes="PP_VO_CAM"),
        _f("VI_TRI_TH_DVKT", T, 1024),
        _f("MA_MAY", T, 1024),
        _f("MA_HIEU_SP", T, 255),
        _f("TAI_SU_DUNG", C, 1, codes="TAI_SU_DUNG"),
        _f("DU_PHONG", T),
    ),
)

XML4 = TableSpec(
    "XML4",
    "CHITIEU_CHITIET_DICHVUCANLAMSANG",
    ("DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
    (
        _f("MA_LK", T, 100, True),
        _f("STT", I, 10, True),
        _f("MA_DICH_VU", C, 50),
        _f("MA_CHI_SO", T, 255),
        _f("TEN_CHI_SO", T, 255),
        _f("GIA_TRI", T, 1024),
        _f("DON_VI_DO", T, 50),
        _f("MO_TA", T),
        _f("KET_LUAN", T),
        _f("NGAY_KQ", DT, 12),
        _f("MA_BS_DOC_KQ", T, 255),
        _f("DU_PHONG", T),
    ),
)

XML5 = TableSpec(
    "XML5",
    "CHITIEU_CHITIET_DIENBIENLAMSANG",
    ("DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
    (
        _f("MA_LK", T, 100, True),
        _f("STT", I, 10, True),
        _f("DIEN_BIEN_LS", T),
        _f("GIAI_DOAN_BENH", T),
        _f("HOI_CHAN", T),
        _f("PHAU_THUAT", T),
        _f("THOI_DIEM_DBLS", DT, 12),
        _f("NGUOI_THUC_HIEN", T, 255),
        _f("DU_PHONG", T),
    ),
)

PARSED_TABLES: dict[str, TableSpec] = {
    s.table: s for s in (XML1, XML2, XML3, XML4, XML5, *DOC_SPECS)
}
"""Every table, parsed into typed frames (XML6–XML15 in :mod:`claims.xml130_docs`)."""

DOC_TABLES: tuple[str, ...] = tuple(s.table for s in DOC_SPECS)
"""The documents besides the money: XML6–XML15."""

LINE_TABLES: tuple[str, ...] = ("XML2", "XML3", "XML4", "XML5", *DOC_TABLES)
"""Every table besides XML1: rows of one claim, linked to its XML1 by MA_LK (XML12,
which has none, by its HOSO only)."""

ALL_TABLES: tuple[str, ...] = tuple(PARSED_TABLES)

WRAPPER_ROOT = "GIAMDINHHS"
CARD_LENGTH = 15
LIST_SEPARATOR = ";"
