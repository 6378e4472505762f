"""One place for every setting, read from the environment with documented defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from geodata.sources import default_sources_dir

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Paths and server settings.

    CAFCARTO_SOURCES  raw sources directory (default ../shared/data when it exists,
                      else .cache/sources, where `cafcarto build` downloads them)
    CAFCARTO_CACHE    build cache (default .cache/cafcarto, ignored by git)
    CAFCARTO_VENDOR   front-end libraries installed from npm (default .cache/vendor)
    HOST, PORT        where `cafcarto serve` listens (default 127.0.0.1:8050)
    CAFCARTO_SECRECY_THRESHOLD  primary secrecy threshold (default 5)
    """

    sources: Path
    cache: Path
    vendor: Path
    host: str = "127.0.0.1"
    port: int = 8050
    secrecy_threshold: int = 5

    @property
    def store_demo(self) -> Path:
        return self.cache / "demo"

    @property
    def store_import(self) -> Path:
        return self.cache / "import"

    @property
    def facilities_import(self) -> Path:
        """Facilities imported with `cafcarto equipements` (they win over the store's)."""
        return self.cache / "equipements"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            sources=Path(env.get("CAFCARTO_SOURCES") or default_sources_dir()).resolve(),
            cache=Path(env.get("CAFCARTO_CACHE") or REPO_ROOT / ".cache" / "cafcarto").resolve(),
            vendor=Path(env.get("CAFCARTO_VENDOR") or REPO_ROOT / ".cache" / "vendor").resolve(),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8050")),
            secrecy_threshold=int(env.get("CAFCARTO_SECRECY_THRESHOLD", "5")),
        )
