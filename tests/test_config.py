from pathlib import Path

import pytest

from propolis.kernel.config import Config, load_config
from propolis.kernel.errors import ConfigError


def test_defaults_without_file_or_env() -> None:
    cfg = load_config(environ={})
    assert cfg == Config()
    assert cfg.nats.url == ""  # embedded NATS by default


def test_env_overrides_toml(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('data_dir = "/srv/p"\n[grpc]\nport = 7000\n[nats]\nurl = "nats://a:1"\n')
    cfg = load_config(f, environ={"PROPOLIS_GRPC__PORT": "7100", "PROPOLIS_POLICY__DECISION_LOG": "false"})
    assert cfg.data_dir == "/srv/p"
    assert cfg.grpc.port == 7100
    assert cfg.nats.url == "nats://a:1"
    assert cfg.policy.decision_log is False


def test_config_path_from_environment(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('[policy]\nmode = "remote"\nremote_url = "http://127.0.0.1:8181"\n')
    assert load_config(environ={"PROPOLIS_CONFIG": str(f)}).policy.mode == "remote"


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"PROPOLIS_GRPC__PORT": "eighty"}, "grpc.port"),
        ({"PROPOLIS_POLICY__MODE": "sideways"}, "policy.mode"),
        ({"PROPOLIS_NATS__NO_SUCH_KEY": "1"}, "nats"),
        ({"PROPOLIS_LOG_LEVEL": "loud"}, "log_level"),
    ],
)
def test_invalid_values_name_the_key(environ: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(environ=environ)
    assert key in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_toml_key_and_bad_toml(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("[grpc]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config(f, environ={})
    f.write_text("[grpc\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", environ={})
