import numpy as np
import pytest

from gan_core.attributes import ATTRIBUTE_NAMES, STYLEFLOW_MEANS, condition_vector, stats_attributes, table_attributes


def test_condition_is_sh_then_attributes_in_styleflow_order():
    attrs = stats_attributes(yaw=10.0, pitch=-5.0)
    c = condition_vector(sh=np.arange(9.0), attributes=attrs)
    assert c.shape == (17,) and c.dtype == np.float32
    assert np.allclose(c[:9], np.arange(9)) and c[9 + ATTRIBUTE_NAMES.index("yaw")] == 10.0
    assert c[9 + ATTRIBUTE_NAMES.index("age")] == pytest.approx(STYLEFLOW_MEANS["age"])
    with pytest.raises(ValueError, match="9 finite"):
        condition_vector(sh=[np.nan] * 9, attributes=attrs)


def test_table_rows_override_and_errors_name_the_attribute():
    row = {k: 1.0 for k in ATTRIBUTE_NAMES if k not in ("yaw", "pitch")}
    attrs = table_attributes(row=row, yaw=3.0, pitch=4.0)
    assert attrs["yaw"] == 3.0 and attrs["beard"] == 1.0
    with pytest.raises(ValueError, match="lacks \\['age'\\]"):
        table_attributes(row={k: v for k, v in row.items() if k != "age"}, yaw=0, pitch=0)
    with pytest.raises(ValueError, match="glasses"):
        table_attributes(row={**row, "glasses": float("nan")}, yaw=0, pitch=0)


def test_an_edit_condition_moves_one_attribute_by_styleflows_gain_within_its_range():
    from gan_core.attributes import ATTRIBUTE_RANGES, EDIT_GAIN, EDIT_ROWS, edit_condition

    source = condition_vector(sh=np.linspace(-1, 1, 9), attributes=stats_attributes(yaw=3.0, pitch=-2.0))
    edited = edit_condition(source=source, attribute="beard", target=1.0)
    at = 9 + ATTRIBUTE_NAMES.index("beard")
    assert edited[at] == pytest.approx(STYLEFLOW_MEANS["beard"] + 1.7 * (1.0 - STYLEFLOW_MEANS["beard"]))
    assert np.array_equal(np.delete(edited, at), np.delete(source, at))  # the lighting and the rest stay
    assert set(ATTRIBUTE_RANGES) == set(EDIT_GAIN) == set(EDIT_ROWS) == set(ATTRIBUTE_NAMES)
    assert all(0 <= a < b <= 18 for a, b in EDIT_ROWS.values())
    with pytest.raises(ValueError, match=r"age = 80: StyleFlow's range is \[0.0, 65.0\]"):
        edit_condition(source=source, attribute="age", target=80)
    with pytest.raises(ValueError, match="unknown StyleFlow attribute 'moustache'"):
        edit_condition(source=source, attribute="moustache", target=1.0)
