"""Word lists for synthetic people and texts: Vietnamese names, places, free-text phrases.

Plain data, drawn from by index in :mod:`claims.synthetic.people` and
:mod:`claims.synthetic.tables`. Weights are rough national shares (family names) or
uniform; nothing here identifies a real person.
"""

from __future__ import annotations

FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.4),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.1),
    ("Hoàng", 4.1),
    ("Huỳnh", 1.9),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.8),
    ("Trịnh", 0.6),
    ("Đoàn", 0.6),
    ("Lâm", 0.5),
    ("Mai", 0.5),
    ("Tô", 0.3),
    ("Hà", 0.5),
    ("Cao", 0.4),
    ("Lương", 0.4),
    ("Quách", 0.2),
    ("Tạ", 0.2),
    ("Vương", 0.2),
)

MIDDLE_MALE = (
    "Văn",
    "Hữu",
    "Đức",
    "Minh",
    "Quốc",
    "Thanh",
    "Công",
    "Xuân",
    "Quang",
    "Đình",
)
MIDDLE_FEMALE = (
    "Thị",
    "Ngọc",
    "Thu",
    "Thanh",
    "Kim",
    "Minh",
    "Mỹ",
    "Bích",
    "Thùy",
    "Hồng",
)
GIVEN_MALE = (
    "Anh", "Bình", "Cường", "Dũng", "Hùng", "Huy", "Hải", "Khoa", "Long", "Minh",
    "Nam", "Phúc", "Quân", "Sơn", "Thắng", "Tuấn", "Việt", "Vinh", "Trung", "Hiếu",
    "Đạt", "Khánh", "Toàn", "Tùng", "Hoàng", "Lộc", "Phong", "Tài", "Thịnh", "Bảo",
)  # fmt: skip
GIVEN_FEMALE = (
    "Anh", "Hà", "Hương", "Lan", "Linh", "Mai", "Ngọc", "Nhung", "Oanh", "Phương",
    "Quỳnh", "Thảo", "Trang", "Tuyết", "Vân", "Yến", "Hạnh", "Hằng", "Thủy", "Nga",
    "Loan", "Dung", "Hoa", "Hiền", "My", "Chi", "Giang", "Huyền", "Nhi", "Vy",
)  # fmt: skip

PLACE_FIRST = (
    "Tân", "An", "Hòa", "Phú", "Bình", "Thạnh", "Long", "Vĩnh", "Đông", "Tây",
    "Nam", "Bắc", "Trung", "Xuân", "Quang", "Hưng", "Thanh", "Minh", "Đức", "Phước",
    "Mỹ", "Hiệp", "Tiên", "Kim", "Yên", "Cẩm", "Lạc", "Thiện", "Quảng", "Hồng",
)  # fmt: skip
PLACE_SECOND = (
    "Phú", "Bình", "Lợi", "Hòa", "Thành", "Lộc", "Hưng", "Sơn", "Hải", "Thịnh",
    "Tiến", "Phong", "Mỹ", "Khánh", "Thuận", "An", "Đông", "Tây", "Trung", "Điền",
    "Xuân", "Hà", "Giang", "Lâm", "Châu", "Lạc", "Vinh", "Quý", "Tân", "Thạnh",
)  # fmt: skip
STREETS = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Quang Trung",
    "Lý Thường Kiệt", "Hùng Vương", "Nguyễn Huệ", "Phan Chu Trinh", "Lê Duẩn",
    "Điện Biên Phủ", "Trần Phú", "Ngô Quyền", "Bạch Đằng", "Võ Thị Sáu",
)  # fmt: skip
HAMLET_KINDS = ("Thôn", "Xóm", "Ấp", "Bản", "Tổ dân phố", "Khu phố")

ETHNIC_CODES = ("01",) * 86 + (
    "02",
    "03",
    "04",
    "05",
    "06",
    "07",
    "08",
    "09",
    "10",
    "11",
)
OCCUPATIONS = ("00000",) * 6 + ("21110", "22210", "51310", "61110", "72120", "93120")
BLOOD_GROUPS = ("A", "B", "AB", "O", "O", "A", "B", "O")

VISIT_REASONS = (
    "Khám bệnh",
    "Sốt",
    "Ho kéo dài",
    "Đau bụng",
    "Đau đầu, chóng mặt",
    "Đau lưng",
    "Khó thở",
    "Tái khám định kỳ",
    "Mệt mỏi, ăn kém",
    "Đau họng",
)
ADMISSION_REASONS = (
    "Điều trị nội trú theo chỉ định của bác sĩ",
    "Nhập viện cấp cứu",
    "Theo dõi và điều trị",
    "Phẫu thuật theo kế hoạch",
)
ADVICE = (
    "Tái khám sau 7 ngày hoặc khi có dấu hiệu bất thường",
    "Uống thuốc đúng giờ & theo dõi huyết áp tại nhà",
    "Ăn nhạt, giữ huyết áp < 140/90 mmHg",
    "Nghỉ ngơi, uống nhiều nước",
    "Tái khám theo hẹn, mang theo sổ khám bệnh",
)
TREATMENT_METHODS = ("Nội khoa", "Nội khoa", "Nội khoa", "Nội khoa kết hợp YHCT")
DISEASE_STAGES = ("Ổn định", "Cải thiện", "Diễn biến phức tạp")
