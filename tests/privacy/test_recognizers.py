"""Recognizers against generated ground truth: recall and precision per kind, check digits, text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from faker import Faker

# Test data is seeded synthetic data, not privacy noise.
from numpy.random import Generator, default_rng  # noqa: TID251

from dataex.demo.data import hospital_visits, resident_id_check_digit
from dataex.privacy.detect import find_all, recognizer

N = 300
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Published codes of well-known companies (business licences on 国家企业信用信息公示系统), plus the
# example printed in many guides to GB 32100.
REAL_USCC = [
    "91350100M000100Y43",
    "914403001922038216",  # 华为技术有限公司
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
]


def rng(seed: int) -> Generator:
    return default_rng(seed)


def digits(r: Generator, n: int) -> str:
    return "".join(str(d) for d in r.integers(0, 10, n))


def luhn_complete(payload: str) -> str:
    """Independent Luhn: append the digit that makes the sum divisible by 10."""
    total = 0
    for i, c in enumerate(reversed(payload)):
        d = int(c)
        if i % 2 == 0:  # doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return payload + str((10 - total % 10) % 10)


def uscc_complete(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + USCC_CHARS[(31 - total % 31) % 31]


def wrong_last(value: str, alphabet: str) -> str:
    return value[:-1] + next(c for c in alphabet if c != value[-1])


def score(kind: str, positives: list[str], negatives: list[str]) -> tuple[float, float]:
    r = recognizer(kind)
    tp = sum(r.validate(v) for v in positives)
    fp = sum(r.validate(v) for v in negatives)
    recall = tp / len(positives)
    precision = tp / (tp + fp) if tp + fp else 0.0
    return recall, precision


# -- generators: (positives, negatives that look right but are not) -----------------------------------


def resident_ids() -> tuple[list[str], list[str]]:
    ids = sorted(set(hospital_visits(2 * N, seed=3).column("id_no").to_pylist()))[:N]
    r = rng(1)
    legacy = [f"330102{y:02d}{m:02d}{d:02d}{digits(r, 3)}" for y, m, d in zip(
        r.integers(30, 99, 50), r.integers(1, 13, 50), r.integers(1, 29, 50), strict=True)]  # fmt: skip
    wrong = [wrong_last(i, "0123456789X") for i in ids[: N // 2]]
    impossible = []
    for i in ids[: N // 2]:
        first17 = i[:10] + "1302" + i[14:17]  # month 13
        impossible.append(first17 + resident_id_check_digit(first17))
        feb30 = i[:10] + "0230" + i[14:17]
        impossible.append(feb30 + resident_id_check_digit(feb30))
    future = "1101052099010100" + "1"
    return ids + legacy, wrong + impossible + [future + resident_id_check_digit(future)]


def bank_cards() -> tuple[list[str], list[str]]:
    r = rng(2)
    cards = [luhn_complete("62" + digits(r, int(r.integers(13, 17)))) for _ in range(N)]
    return cards, [wrong_last(c, "0123456789") for c in cards]


def credit_cards() -> tuple[list[str], list[str]]:
    r = rng(3)
    known = ["4111111111111111", "5500005555555559", "378282246310005", "6011111111111117",
             "3530111333300000", "30569309025904", "2223003122003222"]  # fmt: skip
    visa = [luhn_complete("4" + digits(r, 14)) for _ in range(N // 2)]
    mc = [luhn_complete("5" + str(int(r.integers(1, 6))) + digits(r, 13)) for _ in range(N // 2)]
    pos = known + visa + mc
    return pos, [wrong_last(c, "0123456789") for c in pos]


def usccs() -> tuple[list[str], list[str]]:
    r = rng(4)
    gen = []
    for _ in range(N):
        body = "".join(USCC_CHARS[int(i)] for i in r.integers(0, 31, 9))
        gen.append(uscc_complete(str(r.choice(list("159Y"))) + "1" + "330106" + body))
    pos = REAL_USCC + gen
    return pos, [wrong_last(c, USCC_CHARS) for c in pos]


def mobiles() -> tuple[list[str], list[str]]:
    r = rng(5)
    prefixes = ["138", "139", "150", "158", "186", "177", "199", "166", "147"]
    pos = [str(r.choice(prefixes)) + digits(r, 8) for _ in range(N)]
    pos += ["+86 138-1234-5678", "008613912345678", "+8618612345678"]
    neg = ["12" + digits(r, 9) for _ in range(N // 3)] + ["10" + digits(r, 9) for _ in range(N // 3)]
    neg += ["138" + digits(r, 7) for _ in range(N // 3)] + ["138" + digits(r, 9) for _ in range(20)]
    return pos, neg


def landlines() -> tuple[list[str], list[str]]:
    r = rng(6)
    pos = [f"010-{r.integers(2, 10)}{digits(r, 7)}" for _ in range(N // 3)]
    pos += [f"0571-{r.integers(2, 10)}{digits(r, 7)}" for _ in range(N // 3)]
    pos += [f"(0755){r.integers(2, 10)}{digits(r, 6)}" for _ in range(N // 3)]
    neg = [f"010-1{digits(r, 7)}" for _ in range(N // 2)] + [f"0571-{digits(r, 5)}" for _ in range(N // 2)]
    return pos, neg


def emails() -> tuple[list[str], list[str]]:
    fake = Faker("en_US")
    fake.seed_instance(7)
    pos = [fake.email() for _ in range(N)] + ["zhang.san+dx@mail.hospital.cn", "a@b.cn"]
    neg = ["not an email", "a@b", "@b.cn", "a@.cn", "a..b@c.cn", "a@b.c", "张三@医院", "a@b_c.cn"] * 10
    return pos, neg


def ips() -> tuple[list[str], list[str]]:
    fake = Faker()
    fake.seed_instance(8)
    pos = [fake.ipv4() for _ in range(N // 2)] + [fake.ipv6() for _ in range(N // 2)]
    neg = ["256.1.1.1", "1.2.3", "01.2.3.4", "12:30:45", "1.2.3.4.5", "gggg::1", "2025-01-01"] * 10
    return pos, neg


def passports() -> tuple[list[str], list[str]]:
    r = rng(9)
    pos = ["E" + digits(r, 8) for _ in range(N // 3)] + ["G" + digits(r, 8) for _ in range(N // 3)]
    pos += ["EA" + digits(r, 7) for _ in range(N // 6)] + ["P" + digits(r, 7) for _ in range(N // 6)]
    neg = ["E" + digits(r, 7) for _ in range(N // 2)] + ["X" + digits(r, 8) for _ in range(N // 2)]
    return pos, neg


def plates() -> tuple[list[str], list[str]]:
    r = rng(10)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    provinces = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

    def ch(s: str) -> str:
        return str(r.choice(list(s)))

    alnum = letters + "0123456789"
    pos = [ch(provinces) + ch(letters) + "".join(ch(alnum) for _ in range(4)) + ch("0123456789")
           for _ in range(N // 2)]  # fmt: skip
    pos += [ch(provinces) + ch(letters) + ch("DF") + ch(letters + "0123456789") + digits(r, 4)
            for _ in range(N // 2)]  # fmt: skip
    neg = ["A" + ch(letters) + digits(r, 5) for _ in range(N // 2)]
    neg += [ch(provinces) + "I" + digits(r, 5) for _ in range(N // 4)]
    neg += [ch(provinces) + ch(letters) + digits(r, 4) for _ in range(N // 4)]
    return pos, neg


def ibans() -> tuple[list[str], list[str]]:
    pos = ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
           "NL91ABNA0417164300", "GB82 WEST 1234 5698 7654 32", "CH9300762011623852957"]  # fmt: skip
    neg = [p[:2] + f"{(int(p[2:4]) + 1) % 100:02d}" + p[4:] for p in pos] + [
        "GB82WEST1234569876543",
        "XX82WEST12345698765432",
    ]
    return pos * 10, neg * 10


def names() -> tuple[list[str], list[str]]:
    fake = Faker("zh_CN")
    fake.seed_instance(11)
    pos = [fake.name() for _ in range(N)] + ["欧阳娜娜", "诸葛亮", "司马懿"]
    neg = ["内科", "外科", "儿科", "眼科", "急诊科", "胃炎", "肺炎", "近视", "发热", "腰痛", "龋病",
           "荨麻疹", "结膜炎", "医保", "门诊", "住院部", "挂号处", "收费", "处方", "检查", "病历",
           "Zhang San", "12345", "杭州市"]  # fmt: skip
    return pos, neg


def addresses() -> tuple[list[str], list[str]]:
    fake = Faker("zh_CN")
    fake.seed_instance(12)
    pos = [fake.address() for _ in range(N)] + ["浙江省杭州市西湖区文三路100号", "北京市海淀区中关村大街1号"]
    neg = [
        "内科",
        "原发性高血压",
        "杭州",
        "浙江省",
        "某某科技有限公司",
        "2型糖尿病",
        "挂号收费处",
        "V0000001",
    ]
    return pos, neg * 10


def dobs() -> tuple[list[str], list[str]]:
    r = rng(13)
    days = r.integers(0, 365 * 90, N)
    pos = [(dt.date(1930, 1, 1) + dt.timedelta(days=int(d))).isoformat() for d in days]
    pos += ["1990/5/3", "1990.05.03", "19900503", "1990年5月3日"]
    neg = ["1990-02-30", "1990-13-01", "2999-01-01", "1850-01-01", "19901301", "not a date"] * 10
    return pos, neg


def diagnoses() -> tuple[list[str], list[str]]:
    from dataex.demo.data import DIAGNOSES

    pos = [*DIAGNOSES, "I10.x00", "E11.900", "U07.1"]
    neg = ["I", "110", "原发性高血压", "II10", "I1", "V0000001"]
    return pos * 5, neg * 5


CASES: dict[str, tuple[Callable[[], tuple[list[str], list[str]]], float, float]] = {
    "cn_resident_id": (resident_ids, 1.0, 1.0),
    "bank_card": (bank_cards, 1.0, 1.0),
    "credit_card": (credit_cards, 1.0, 1.0),
    "cn_social_credit_code": (usccs, 1.0, 1.0),
    "cn_mobile": (mobiles, 1.0, 1.0),
    "cn_landline": (landlines, 1.0, 1.0),
    "email": (emails, 0.99, 1.0),
    "ip_address": (ips, 1.0, 1.0),
    "passport": (passports, 1.0, 1.0),
    "license_plate": (plates, 1.0, 1.0),
    "iban": (ibans, 1.0, 1.0),
    "person_name": (names, 0.95, 0.9),
    "address": (addresses, 0.95, 0.95),
    "date_of_birth": (dobs, 1.0, 1.0),
    "medical_diagnosis": (diagnoses, 1.0, 1.0),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_recall_and_precision_on_generated_ground_truth(kind: str) -> None:
    make, min_recall, min_precision = CASES[kind]
    positives, negatives = make()
    assert len(positives) >= 50
    recall, precision = score(kind, positives, negatives)
    assert recall >= min_recall, f"{kind}: recall {recall:.3f}"
    assert precision >= min_precision, f"{kind}: precision {precision:.3f}"


def test_wrong_check_digits_never_validate() -> None:
    _, bad_ids = resident_ids()
    assert not any(recognizer("cn_resident_id").validate(b) for b in bad_ids)
    for kind, make in (
        ("bank_card", bank_cards),
        ("cn_social_credit_code", usccs),
        ("credit_card", credit_cards),
    ):
        _, bad = make()
        assert not any(recognizer(kind).validate(b) for b in bad), kind


def test_published_unified_social_credit_codes_validate() -> None:
    r = recognizer("cn_social_credit_code")
    assert all(r.validate(c) for c in REAL_USCC)
    assert not r.validate("91350100M000100Y44")
    assert not r.validate("91350100M000100I43")  # I is not in the GB 32100 alphabet


def test_lower_case_x_and_the_famous_sample_id() -> None:
    r = recognizer("cn_resident_id")
    assert r.validate("11010519491231002X") and r.validate("11010519491231002x")
    assert not r.validate("11010519491231002Y")
    assert not r.validate("00010519491231002X")  # no province 00


EMBEDDED = [
    ("身份证号11010519491231002X，请核对", "cn_resident_id", "11010519491231002X"),
    ("卡号6222021234567890128已冻结", "bank_card", "6222021234567890128"),
    ("邮箱a@b.cn联系", "email", "a@b.cn"),
    ("手机13812345678。", "cn_mobile", "13812345678"),
    ("电话：0571-87654321转", "cn_landline", "0571-87654321"),
    ("统一社会信用代码91350100M000100Y43的企业", "cn_social_credit_code", "91350100M000100Y43"),
    ("护照号E12345678到期", "passport", "E12345678"),
    ("车牌浙AD12345违章", "license_plate", "浙AD12345"),
    ("登录地址192.168.10.1异常", "ip_address", "192.168.10.1"),
    ("账户GB82WEST12345698765432转账", "iban", "GB82WEST12345698765432"),
    ("患者张伟，男，出生日期1985-03-17", "person_name", "张伟"),
    ("患者张伟，男，出生日期1985-03-17", "date_of_birth", "1985-03-17"),
    ("家住浙江省杭州市西湖区文三路100号。", "address", "浙江省杭州市西湖区文三路100号"),
    ("诊断：I10，随访", "medical_diagnosis", "I10"),
    ("call +447911123456 now", "phone_e164", "+447911123456"),
]


@pytest.mark.parametrize(("text", "kind", "value"), EMBEDDED)
def test_identifiers_next_to_chinese_characters_are_found_exactly(text: str, kind: str, value: str) -> None:
    found = [text[s.start : s.end] for s in find_all(text) if s.kind == kind]
    assert found == [value]


@pytest.mark.parametrize(
    "text",
    [
        "单号11010519491231002X1",  # a longer ASCII run: not an ID
        "订单A6222021234567890128",
        "版本13812345678901",
        "合计1234567元",
    ],
)
def test_candidates_inside_longer_ascii_runs_are_not_cut_out(text: str) -> None:
    kinds = {s.kind for s in find_all(text)}
    assert not kinds & {"cn_resident_id", "bank_card", "cn_mobile", "credit_card"}


def test_a_valid_id_is_one_span_not_also_a_card_or_mobile() -> None:
    text = "证件11010519491231002X与13812345678"
    assert [(s.kind, text[s.start : s.end]) for s in find_all(text)] == [
        ("cn_resident_id", "11010519491231002X"),
        ("cn_mobile", "13812345678"),
    ]
