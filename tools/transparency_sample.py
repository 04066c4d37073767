"""Writes the sample mandatory publications in services/opendata/sample/: five Catalan municipalities of different
sizes, three years of budgets and one year of every other block. Figures are plausible, not real; people's names
are made up. Run again to regenerate: `PYTHONPATH=. .venv/bin/python tools/transparency_sample.py`."""

import csv
import json
import random
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "services" / "opendata" / "sample"
YEARS = (2023, 2024, 2025)
LAST = YEARS[-1]

#: code (in DIR3's form), name, inhabitants in the last year, budget per inhabitant (euros)
MUNICIPALITIES = [
    ("L01170792", "Ajuntament de Girona", 106_476, 1_390),
    ("L01082981", "Ajuntament de Vic", 49_218, 1_210),
    ("L01171143", "Ajuntament d'Olot", 37_515, 1_160),
    ("L01252331", "Ajuntament de Tremp", 6_297, 1_480),
    ("L01170327", "Ajuntament de Cadaqués", 2_985, 2_650),
]

EXPENSE = [
    (1, "Despeses de personal", 0.31, 0.03, 0.97),
    (2, "Despeses en béns corrents i serveis", 0.36, 0.06, 0.91),
    (3, "Despeses financeres", 0.008, 0.0, 0.88),
    (4, "Transferències corrents", 0.09, 0.08, 0.93),
    (5, "Fons de contingència i altres imprevistos", 0.006, -0.6, 0.0),
    (6, "Inversions reals", 0.15, 0.55, 0.58),
    (7, "Transferències de capital", 0.02, 0.25, 0.71),
    (8, "Actius financers", 0.004, 0.0, 0.9),
    (9, "Passius financers", 0.062, 0.0, 0.99),
]
INCOME = [
    (1, "Impostos directes", 0.39, 0.0, 1.03),
    (2, "Impostos indirectes", 0.02, 0.0, 1.12),
    (3, "Taxes, preus públics i altres ingressos", 0.17, 0.02, 0.98),
    (4, "Transferències corrents", 0.31, 0.04, 1.02),
    (5, "Ingressos patrimonials", 0.02, 0.0, 1.08),
    (6, "Alienació d'inversions reals", 0.005, 0.0, 0.4),
    (7, "Transferències de capital", 0.04, 0.3, 0.62),
    (8, "Actius financers", 0.003, 3.5, 0.02),
    (9, "Passius financers", 0.042, 0.0, 0.95),
]

FIRST_NAMES = ["Marta", "Jordi", "Núria", "Pere", "Laia", "Oriol", "Montse", "Xavier", "Anna", "Joan", "Elisenda",
               "Albert", "Carme", "Sergi", "Roser", "Miquel"]  # fmt: skip
SURNAMES = ["Puig", "Vila", "Soler", "Ferrer", "Casals", "Roca", "Serra", "Font", "Pujol", "Bosch", "Riera", "Coll",
            "Sala", "Prat", "Camps", "Vidal", "Costa", "Mas"]  # fmt: skip


def euros(value: float) -> str:
    return f"{value:.2f}"


def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def budget(rng: random.Random, total: float) -> list[list[object]]:
    rows: list[list[object]] = []
    for direction, chapters in (("expense", EXPENSE), ("income", INCOME)):
        for chapter, description, share, change, execution in chapters:
            initial = total * share * rng.uniform(0.92, 1.08)
            final = initial * (1 + change * rng.uniform(0.7, 1.3)) if change else initial
            # Obligations never exceed their credits; rights may exceed their forecasts.
            ceiling = 1.0 if direction == "expense" else 1.25
            executed = final * min(execution * rng.uniform(0.95, 1.04), ceiling)
            rows.append([direction, chapter, description, euros(initial), euros(final), euros(executed)])
    return rows


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"


def salaries(rng: random.Random, inhabitants: int) -> list[list[object]]:
    mayor = 25_000 + min(inhabitants, 110_000) * 0.55
    councillors = 2 if inhabitants < 10_000 else 6 if inhabitants < 60_000 else 9
    rows: list[list[object]] = [[person(rng), "Alcalde/essa", "elected", "full", euros(mayor), euros(0)]]
    for number in range(councillors):
        dedication = "full" if number < councillors // 2 else "partial"
        pay = mayor * (0.78 if dedication == "full" else 0.42) * rng.uniform(0.9, 1.0)
        rows.append([person(rng), f"Regidor/a delegat/da {number + 1}", "elected", dedication, euros(pay), euros(0)])
    for number in range(3 if inhabitants < 10_000 else 8):
        rows.append(
            [person(rng), f"Regidor/a {number + 1}", "elected", "none", euros(0), euros(rng.uniform(800, 4800))]
        )
    for position, share in (("Secretari/ària general", 0.92), ("Interventor/a", 0.9), ("Tresorer/a", 0.78)):
        if inhabitants >= 10_000 or position != "Tresorer/a":
            rows.append([person(rng), position, "senior", "full", euros(mayor * share), euros(0)])
    return rows


def personnel(rng: random.Random, inhabitants: int) -> list[list[object]]:
    staff = inhabitants * rng.uniform(0.0085, 0.011)
    shares = [
        ("civil_servant", "A1", 0.05, 68_000), ("civil_servant", "A2", 0.08, 56_000),
        ("civil_servant", "C1", 0.16, 44_000), ("civil_servant", "C2", 0.14, 38_000),
        ("interim_civil_servant", "C1", 0.05, 41_000), ("interim_civil_servant", "C2", 0.06, 36_000),
        ("permanent_labour", "A2", 0.04, 50_000), ("permanent_labour", "C2", 0.12, 35_000),
        ("permanent_labour", "AP", 0.17, 31_000), ("temporary_labour", "AP", 0.1, 28_000),
        ("trust_staff", "A2", 0.03, 52_000),
    ]  # fmt: skip
    rows: list[list[object]] = []
    for employment, group, share, cost in shares:
        positions = max(1, round(staff * share))
        filled = (
            positions if employment == "trust_staff" else max(0, positions - rng.randint(0, max(1, positions // 8)))
        )
        women = round(filled * rng.uniform(0.45, 0.68))
        rows.append([employment, group, positions, filled, women, euros(filled * cost * rng.uniform(0.97, 1.03))])
    return rows


def contracts(rng: random.Random, inhabitants: int, town: str) -> list[list[object]]:
    objects = [
        ("works", "Reurbanització del carrer Major"), ("works", "Rehabilitació de la coberta de l'escola"),
        ("services", "Neteja d'edificis municipals"), ("services", "Manteniment de l'enllumenat públic"),
        ("services", "Servei d'atenció domiciliària"), ("supplies", "Subministrament d'energia elèctrica"),
        ("supplies", "Vehicle elèctric per a la brigada"), ("services", "Assegurança de responsabilitat civil"),
        ("supplies", "Mobiliari per a la biblioteca"), ("services", "Organització de la festa major"),
    ]  # fmt: skip
    companies = {
        "works": ["Construccions Pirineu SL", "Obres i Paviments del Ter SA"],
        "services": ["Serveis Integrals del Ter SA", "Neteges Garrotxa SL", "Cura i Llar SCCL"],
        "supplies": ["Energia Verda Cooperativa SCCL", "Mobles Osona SL", "Vehicles Elèctrics Catalans SL"],
    }
    count = 6 if inhabitants < 10_000 else 10
    rows: list[list[object]] = []
    for number, (kind, subject) in enumerate(objects[:count], start=1):
        scale = inhabitants * rng.uniform(0.3, 6)
        minor = scale < 15_000 and kind != "works" or scale < 40_000 and kind == "works"
        procedure = "minor" if minor else rng.choice(["open", "open", "simplified", "negotiated"])
        excl = scale
        tax_id = f"B{rng.randint(10_000_000, 69_999_999)}"[:9]
        day = f"{LAST}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        bidders = "" if procedure == "minor" else rng.randint(1, 9)
        rows.append([f"{town}-{LAST}-C{number:03d}", subject, kind, procedure, rng.choice(companies[kind]), tax_id, day,
                     euros(excl), euros(excl * 1.21), bidders])  # fmt: skip
    return rows


def agreements(rng: random.Random, town: str) -> list[list[object]]:
    subjects = [
        ("Consell Comarcal", "Transport escolar i menjador"), ("Diputació de Girona", "Suport a la gestió tributària"),
        ("Universitat", "Pràctiques d'estudiants"), ("Associació de comerciants", "Dinamització del comerç local"),
        ("Departament de Salut", "Ús del consultori local"),
    ]  # fmt: skip
    rows: list[list[object]] = []
    for number, (party, subject) in enumerate(subjects, start=1):
        signed = f"{LAST - rng.randint(0, 3)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        until = "" if number == 3 else f"{LAST + rng.randint(1, 4)}-12-31"
        amount = 0 if number == 3 else rng.uniform(3_000, 180_000)
        rows.append([f"{town}-{LAST}-V{number:03d}", party, subject, signed, until, euros(amount)])
    return rows


def subsidies(rng: random.Random, inhabitants: int, town: str) -> list[list[object]]:
    lines = [
        ("Club Esportiu", "Activitat esportiva de base", "competitive"),
        ("Associació de Veïns", "Festes de barri", "competitive"),
        ("Fundació Social", "Projecte d'inclusió social", "direct"),
        ("Escola de Música", "Programa pedagògic", "competitive"),
        ("Creu Roja", "Emergència social", "direct"),
        ("Agrupació Sardanista", "Foment de la cultura popular", "competitive"),
    ]
    rows: list[list[object]] = []
    for number, (beneficiary, purpose, procedure) in enumerate(lines, start=1):
        day = f"{LAST}-{rng.randint(2, 11):02d}-{rng.randint(1, 28):02d}"
        amount = inhabitants * rng.uniform(0.05, 0.6)
        rows.append([f"{town}-{LAST}-S{number:03d}", beneficiary, purpose, procedure, day, euros(amount)])
    return rows


def debt(rng: random.Random, total: float, town: str) -> list[list[object]]:
    rows: list[list[object]] = []
    lenders = ["CaixaBank SA", "Banco Santander SA", "BBVA SA", "Institut Català de Finances"]
    for number in range(rng.randint(2, 4)):
        principal = total * rng.uniform(0.03, 0.12)
        signed = f"{LAST - rng.randint(2, 12)}-{rng.randint(1, 12):02d}-15"
        years = rng.choice([10, 12, 15, 20])
        maturity = f"{int(signed[:4]) + years}-12-31"
        outstanding = principal * rng.uniform(0.2, 0.9)
        rows.append([f"{town}-P{number + 1:02d}", rng.choice(lenders), "long_term_loan", signed, euros(principal),
                     euros(outstanding), f"{rng.uniform(0.4, 3.9):.3f}", maturity])  # fmt: skip
    return rows


def main() -> None:
    manifest = []
    for code, name, inhabitants, per_inhabitant in MUNICIPALITIES:
        rng = random.Random(code)
        town = code[-4:]
        years = {}
        for year in YEARS:
            people = round(inhabitants * (1 - 0.008 * (LAST - year)))
            total = people * per_inhabitant * (1 - 0.04 * (LAST - year))
            years[str(year)] = people
            write(SAMPLE / code / f"budget-{year}.csv",
                  ["direction", "chapter", "description", "initial_credit", "final_credit", "executed"],
                  budget(rng, total))  # fmt: skip
        total = inhabitants * per_inhabitant
        write(SAMPLE / code / f"salaries-{LAST}.csv",
              ["name", "position", "category", "dedication", "annual_gross", "allowances"],
              salaries(rng, inhabitants))  # fmt: skip
        write(
            SAMPLE / code / f"personnel-{LAST}.csv",
            ["employment", "group", "positions", "filled", "women", "annual_cost"],
            personnel(rng, inhabitants),
        )
        write(SAMPLE / code / f"contracts-{LAST}.csv",
              ["reference", "object", "type", "procedure", "awardee", "awardee_tax_id", "award_date",
               "amount_excl_vat", "amount_incl_vat", "bidders"], contracts(rng, inhabitants, town))  # fmt: skip
        write(
            SAMPLE / code / f"agreements-{LAST}.csv",
            ["reference", "parties", "object", "signed_on", "valid_until", "obligations"],
            agreements(rng, town),
        )
        write(SAMPLE / code / f"subsidies-{LAST}.csv",
              ["reference", "beneficiary", "purpose", "procedure", "granted_on", "amount"],
              subsidies(rng, inhabitants, town))  # fmt: skip
        write(SAMPLE / code / f"debt-{LAST}.csv",
              ["instrument", "lender", "type", "signed_on", "principal", "outstanding", "interest_rate", "maturity"],
              debt(rng, total, town))  # fmt: skip
        manifest.append({"code": code, "name": name, "inhabitants": years})
    (SAMPLE / "municipalities.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
