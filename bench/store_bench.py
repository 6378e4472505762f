"""Indicator store: size on disk and typical query times (medians), plus the secrecy audit."""

from __future__ import annotations

import time

import pandas as pd

from geodata.cache import active_dir
from layers.build_store import audit_store, summarise
from layers.config import Settings
from layers.store import Store, timed


def measure(audit: bool = True) -> dict | None:
    settings = Settings.from_env()
    folder = active_dir(settings.store_demo)
    geo = active_dir(settings.cache)
    if folder is None or geo is None:
        return None
    store = Store(folder)
    communes = pd.read_parquet(
        geo / "geo" / "commune.parquet", columns=["code", "epci", "departement", "region"]
    )
    vitry = communes.set_index("code").loc["51649"] if "51649" in set(communes["code"]) else None
    row = vitry if vitry is not None else communes.iloc[0]
    code = row.name if vitry is not None else row["code"]
    refs = [
        ("commune", code),
        ("epci", row["epci"]),
        ("departement", row["departement"]),
        ("region", row["region"]),
        ("france", "FR"),
    ]
    period = store.periods("rsa", "commune")[-1]
    out = {
        "cellules": store.meta["cellules"],
        "octets": store.meta["octets"],
        "secret": store.meta.get("secret", {}),
        "duree_s": store.meta.get("duree_s", "?"),
        "layer_ms": timed(store.layer, "rsa", "commune", period),
        "series_ms": timed(store.series, "rsa", "commune", code),
        "references_ms": timed(store.series_many, "rsa", refs),
        "rows_layer": len(store.layer("rsa", "commune", period)),
    }
    if audit:
        # All France, every quarterly table and the latest December (about 3 min); the nine
        # other Decembers take as long each: `cafcarto audit` checks them all.
        quarterly = [p for p in store.periods("rsa", "departement") if not p.endswith("-12")]
        t0 = time.perf_counter()
        out["audit"] = summarise(
            audit_store(store, geo, periods=[period, *quarterly], log=lambda _: None)
        )
        out["audit_s"] = time.perf_counter() - t0
    return out


def main() -> None:
    res = measure()
    print("## Entrepôt d'indicateurs (DuckDB sur Parquet)")
    if res is None:
        print("pas d'entrepôt : lancez « cafcarto build »")
        return
    sec = res["secret"]
    print(
        f"{res['cellules']} cellules, {res['octets'] / 1e6:.1f} Mo sur disque, construit en "
        f"{res['duree_s']} s ; secret : {sec.get('tables', 0)} tableaux protégés en "
        f"{sec.get('seconds', 0)} s"
    )
    print(
        f"requêtes (médiane de 20) : toutes les communes, un indicateur et une période "
        f"({res['rows_layer']} lignes) {res['layer_ms']:.1f} ms ; série d'une commune "
        f"{res['series_ms']:.1f} ms ; série avec ses références (EPCI, département, région, "
        f"France) {res['references_ms']:.1f} ms"
    )
    if "audit" in res:
        a = res["audit"]
        print(
            f"audit : {a['tableaux']} tableaux, {a['cellules']} cellules vérifiées, "
            f"{a['secretes']} secrètes, intervalle le plus étroit {a['intervalle_min']}, "
            f"{a['echecs']} échec(s), {res['audit_s']:.0f} s"
        )


if __name__ == "__main__":
    main()
