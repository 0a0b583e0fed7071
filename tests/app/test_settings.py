"""Settings that cannot work are refused at start with the setting's name, not a traceback."""
import pytest

from twestival import create_app
from twestival.settings import SettingsError


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", ""])
def test_a_live_update_rate_that_is_not_a_number_above_zero_is_refused(value):
    with pytest.raises(SettingsError, match="TWESTIVAL_LIVE_UPDATES_PER_SECOND"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x",
                    "LIVE_UPDATES_PER_SECOND": value})


@pytest.mark.parametrize("value, rate", [("0.5", 0.5), (4, 4.0), ("10", 10.0)])
def test_a_live_update_rate_may_be_a_fraction(value, rate):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x",
                      "LIVE_UPDATES_PER_SECOND": value})
    assert app.config["LIVE_UPDATES_PER_SECOND"] == rate
    app.extensions["twestival.live"].stop()
