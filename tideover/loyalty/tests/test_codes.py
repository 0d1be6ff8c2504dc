from tideover.loyalty.codes import ALPHABET, make_code, normalize_code


def test_codes_leave_out_symbols_people_confuse_and_check_themselves():
    codes = {make_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:200]:
        assert not set(code.replace("-", "")) & set("01OI")
        assert normalize_code(code) == code
        assert normalize_code(code.lower().replace("-", " ")) == code


def test_one_wrong_symbol_or_two_swapped_neighbours_are_caught():
    code = make_code().replace("-", "")
    for i in range(len(code)):
        for other in ALPHABET:
            if other != code[i]:
                assert normalize_code(code[:i] + other + code[i + 1 :]) is None
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert normalize_code(swapped) is None


def test_every_single_error_and_neighbour_swap_is_caught_for_many_codes():
    # Exhaustive over positions and symbols for a few hundred random codes: a weaker check
    # (Luhn mod 32) passes the test above most of the time and fails here.
    for _ in range(300):
        code = make_code().replace("-", "")
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                assert normalize_code(code[:i] + code[i + 1] + code[i] + code[i + 2 :]) is None
        for i in range(len(code)):
            for other in ALPHABET:
                if other != code[i]:
                    assert normalize_code(code[:i] + other + code[i + 1 :]) is None
