"""Vietnamese messages for the engine's reason codes (the stable code goes beside them).

``{field}`` in a template is replaced by the element name (e.g. ``NGAY_VAO``); a pack's
message may name any column its rules read (``{don_gia}``): :func:`render_text` is the
rule, :data:`PLACEHOLDER` the syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from claims.errors import ReasonCode as R

MESSAGES: dict[R, str] = {
    R.FILE_EMPTY: "Tệp rỗng",
    R.FILE_TOO_LARGE: "Tệp vượt quá dung lượng cho phép",
    R.FILE_NOT_UTF8: "Tệp không phải mã UTF-8",
    R.FILE_NOT_XML: "Tệp không phải XML hợp lệ",
    R.FILE_TRUNCATED: "Tệp bị cắt cụt",
    R.FILE_WRONG_ROOT: "Thẻ gốc không phải GIAMDINHHS",
    R.FILE_DTD_FORBIDDEN: "Tệp khai báo DTD/ENTITY (không được phép)",
    R.FILE_UNREADABLE: "Không đọc được tệp",
    R.FILE_STRUCTURE_INVALID: "Có thẻ HOSO nằm ngoài GIAMDINHHS/THONGTINHOSO/DANHSACHHOSO",
    R.SIGNATURE_MISSING: "Tệp chưa có chữ ký số của cơ sở (CHUKYDONVI) bắt buộc",
    R.SIGNATURE_INVALID: (
        "Chữ ký số của tệp không hợp lệ: nội dung đã bị sửa sau khi ký, hoặc chứng thư "
        "số không được đăng ký cho cơ sở gửi tại ngày lập tệp"
    ),
    R.BULK_TABLE_INVALID: "Bảng dữ liệu lô không đúng cấu trúc",
    R.COUNT_MISMATCH: "SOLUONGHOSO không khớp số hồ sơ",
    R.SENDER_MISSING: "Thiếu mã cơ sở gửi (MACSKCB)",
    R.HOSO_BASE64_INVALID: "NOIDUNGFILE không phải base64 hợp lệ",
    R.HOSO_XML_INVALID: "Nội dung bảng không phải XML hợp lệ",
    R.HOSO_DTD_FORBIDDEN: "Nội dung bảng khai báo DTD/ENTITY (không được phép)",
    R.HOSO_WRONG_ROOT: "Thẻ gốc của bảng không đúng",
    R.HOSO_UNKNOWN_TABLE: "LOAIHOSO không hợp lệ",
    R.HOSO_DUPLICATE_TABLE: "Một bảng xuất hiện nhiều lần trong hồ sơ",
    R.HOSO_NO_XML1: "Hồ sơ thiếu bảng XML1",
    R.HOSO_TRUNCATED: "Nội dung bảng bị cắt cụt (không kết thúc bằng thẻ đóng của bảng)",
    R.HOSO_ROWS_MISPLACED: (
        "Bảng có dòng chi tiết nằm sai vị trí: số dòng đọc được khác số dòng gửi"
    ),
    R.HOSO_FACILITY_MISMATCH: "MA_CSKCB của hồ sơ khác cơ sở gửi tệp",
    R.CLAIM_DUPLICATE_KEY: "MA_LK trùng với hồ sơ khác trong cùng tệp",
    R.CLAIM_INVALID: "Bảng XML1 có lỗi",
    R.CARD_INVALID: "Mã thẻ BHYT không đúng định dạng (15 ký tự, ngăn cách bởi ';')",
    R.CARD_DATES_MISALIGNED: "GT_THE_TU/GT_THE_DEN không khớp với danh sách thẻ",
    R.DATE_ORDER: "Thứ tự ngày không hợp lệ ({field})",
    R.FACILITY_UNKNOWN: "MA_CSKCB không có trong danh mục cơ sở KCB tại ngày vào viện",
    R.NO_CONTRACT: "Cơ sở KCB không có hợp đồng KCB BHYT còn hiệu lực tại ngày vào viện",
    R.CARD_OBJECT_UNKNOWN: "Mã đối tượng trên thẻ BHYT không có trong danh mục tại ngày vào viện",
    R.CARD_LEVEL_MISMATCH: "Mã quyền lợi trên thẻ không khớp mã đối tượng",
    R.CARD_NOT_COVERING_STAY: "Thẻ BHYT không còn hạn trong toàn bộ thời gian điều trị",
    R.REQUIRED_MISSING: "Thiếu trường bắt buộc {field}",
    R.TOO_LONG: "{field} vượt quá độ dài cho phép",
    R.BAD_INTEGER: "{field} phải là số nguyên",
    R.BAD_PERCENT: "{field} phải là số nguyên từ 0 đến 100",
    R.BAD_MONEY: "{field} phải là số tiền không âm, tối đa 15 chữ số và 2 chữ số thập phân",
    R.BAD_QUANTITY: "{field} phải là số không âm, tối đa 3 chữ số thập phân",
    R.BAD_DATE: "{field} phải là ngày dạng yyyyMMdd",
    R.BAD_DATETIME: "{field} phải là thời điểm dạng yyyyMMddHHmm",
    R.BAD_MONTH: "{field} phải là tháng từ 1 đến 12",
    R.CODE_NOT_IN_LIST: "{field} không thuộc danh mục mã có hiệu lực tại ngày vào viện",
    R.LINE_DUPLICATE_KEY: "STT trùng trong cùng bảng của hồ sơ",
    R.LINE_ORPHAN: "Dòng chi tiết không khớp MA_LK của hồ sơ XML1",
    R.LINE_DATE_OUTSIDE_STAY: "{field} nằm ngoài thời gian điều trị (NGAY_VAO–NGAY_RA)",
    R.LINE_OF_REJECTED_CLAIM: "Dòng thuộc hồ sơ bị từ chối",
    R.NOT_IN_CATALOG: "Mã không có trong danh mục đã đăng ký của cơ sở tại ngày thực hiện",
    R.CATALOG_PRICE: "Đơn giá cao hơn giá trong danh mục",
    R.PAYMENT_RATIO: "Tỷ lệ thanh toán BHYT (TYLE_TT_BH) không đúng danh mục",
    R.EXAM_RATIO: "Tỷ lệ thanh toán công khám (TYLE_TT_DV) không đúng thứ tự khám trong ngày",
    R.BED_RATIO: "Tỷ lệ thanh toán giường (TYLE_TT_DV) không đúng quy định nằm ghép",
    R.PROCEDURE_RATIO: "Tỷ lệ thanh toán phẫu thuật/thủ thuật thứ hai trở đi không đúng",
    R.SERVICE_RATIO: "Tỷ lệ thanh toán dịch vụ (TYLE_TT_DV) vượt 100%",
    R.SUPPLIES_CEILING: "Vật tư y tế của gói vượt trần 45 tháng lương cơ sở",
    R.LINE_ARITHMETIC: "Thành tiền không khớp số lượng × đơn giá × tỷ lệ",
    R.BENEFIT_RATE_MISMATCH: "Mức hưởng không đúng",
    R.LOW_COST_THRESHOLD: "Mức hưởng không đúng quy định chi phí dưới 15% lương cơ sở",
    R.ROUTE_UNKNOWN: "MA_DOITUONG_KCB không có trong bảng tuyến tại ngày vào viện",
    R.CLAIM_WITHDRAWN: "Hồ sơ đề nghị thu hồi (MA_DOITUONG_KCB 8): không thanh toán",
    R.CLAIM_TOTAL_CAP: "Tổng quỹ chấp nhận giới hạn bởi T_BHTT đề nghị",
    R.UNDERCLAIMED: "Số tiền đề nghị thấp hơn mức được hưởng: thanh toán theo số đề nghị",
    R.TRANSPORT_NOT_COVERED: (
        "Chi phí vận chuyển (MA_NHOM 12) không thuộc quyền lợi của mức thẻ: "
        "không thanh toán"
    ),
    R.CARD_NOT_COVERING_LINE: (
        "Dịch vụ thực hiện ngoài thời hạn thẻ BHYT (trước ngày thẻ có giá trị, "
        "hoặc quá 15 ngày sau khi thẻ hết hạn khi đang điều trị nội trú)"
    ),
    R.PROGRAMME_FUNDED: (
        "Thuốc do chương trình/dự án chi trả (NGUON_CTRA 2–4): quỹ BHYT không thanh toán"
    ),
    R.ITEM_CEILING: "Vật tư vượt mức thanh toán tối đa của danh mục (trần thanh toán)",
    R.BED_TRANSFER_DAY: (
        "Ngày chuyển khoa: chỉ khoa giá cao nhất và thấp nhất được tính nửa ngày giường"
    ),
    R.EXAM_DAY_CAP: (
        "Tổng tiền khám trong ngày vượt trần (bội số giá lần khám cao nhất): phần vượt "
        "không thanh toán"
    ),
    R.TOTAL_NOT_IN_LINES: (
        "Phần T_BHTT đề nghị trên XML1 không nằm trên dòng chi phí hợp lệ nào "
        "(dòng bị loại khi kiểm tra dữ liệu, hoặc tổng hồ sơ khác tổng các dòng)"
    ),
    R.RULE_NOT_EVALUABLE: (
        "Không đánh giá được quy tắc do thiếu giá trị cần so sánh: hồ sơ chờ giám định"
    ),
}


# --- rendering (helper "contract": every reason names its values) ----------------------
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A placeholder in a message template: ``{name}``, a column or field name."""
BHXH_CODES: dict[R, str] = {}
"""BHXH's code of an engine reason code, where one is known. None is yet: the BHXH codes
of reference §4.3 name assessment findings the packs map (``reason_codes``); an engine
code without an entry has ``bhxh_code`` null."""


def placeholders(template: str) -> tuple[str, ...]:
    """The names ``template`` fills in, in order, each once."""
    return tuple(dict.fromkeys(PLACEHOLDER.findall(template)))


def render_text(template: str, values: Mapping[str, object]) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]`` (null: ``∅``).

    Raises:
        KeyError: a placeholder ``values`` does not hold.
    """

    def fill(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return "∅" if value is None else str(value)

    return PLACEHOLDER.sub(fill, template)


def as_text(column: str, dtype: pl.DataType) -> pl.Expr:
    """A column's values as the text a reason shows: amounts as written, dates ISO,
    date-times to the minute, durations like ``2d 1h``, lists joined by ``;``."""
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        return col.dt.strftime("%Y-%m-%d %H:%M")
    if isinstance(dtype, pl.Duration):
        return col.dt.to_string("polars")
    if isinstance(dtype, pl.List):
        return col.list.eval(pl.element().cast(pl.String)).list.join(";")
    if isinstance(dtype, pl.Null):
        return pl.lit(None, pl.String)
    return col.cast(pl.String)
