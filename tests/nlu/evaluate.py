"""Evaluate a trained Parcours model on the held-out NLU sets, one language at a time.

    .venv-rasa/bin/python tests/nlu/evaluate.py --model models/<file>.tar.gz --threshold 0.90

Loads the model once (Rasa's Python API, the same code path as `rasa test nlu`), classifies
tests/nlu/<lang>.yml for each language, writes Rasa's reports under results/nlu/<lang>/
(intent_report.json, intent_errors.json) plus results/nlu/summary.json, prints the weighted
intent F1, the accuracy and the worst confusions per language, and exits 1 if any language's
weighted F1 is below the threshold (2 on a usage error).

The gate is Rasa's own figure: `rasa test nlu` scores the classifier's top intent (it undoes the
FallbackClassifier's `nlu_fallback`). A second pass parses the same messages exactly as the
running engine does and reports the "deployed" accuracy, where a message that falls back to
`nlu_fallback` (the rephrase prompt) counts as not understood, and the fallback rate.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("fr", "en")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="trained model archive (.tar.gz)")
    parser.add_argument("--threshold", type=float, default=0.90, help="minimum weighted intent F1 per language")
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    parser.add_argument("--out", default=str(ROOT / "results" / "nlu"), help="output directory")
    parser.add_argument("--worst", type=int, default=8, help="how many confusions to print per language")
    return parser.parse_args(argv)


def _quiet() -> None:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import warnings

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    for name in ("rasa", "tensorflow", "absl", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)


def confusions(errors: list[dict]) -> list[tuple[str, str, int, str]]:
    """(expected, predicted, count, one example) for each wrong pair, most frequent first."""
    pairs: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for error in errors:
        predicted = (error.get("intent_prediction") or {}).get("name") or "None"
        pairs[(error["intent"], predicted)].append(error["text"])
    ranked = sorted(pairs.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(expected, predicted, len(texts), texts[0]) for (expected, predicted), texts in ranked]


async def deployed(processor, data: Path) -> tuple[float, int]:
    """Accuracy and number of nlu_fallback answers, parsing as the running engine does."""
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.nlu.training_data.loading import load_data

    examples = load_data(str(data)).intent_examples
    right = fallbacks = 0
    for example in examples:
        parsed = await processor.parse_message(UserMessage(example.get("text")))
        name = (parsed.get("intent") or {}).get("name")
        fallbacks += name == "nlu_fallback"
        right += name == example.get("intent")
    return right / max(len(examples), 1), fallbacks


async def evaluate(args: argparse.Namespace) -> int:
    from rasa.core.agent import Agent
    from rasa.nlu.test import run_evaluation
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)

    started = time.perf_counter()
    agent = Agent.load(str(Path(args.model).resolve()))
    load_seconds = time.perf_counter() - started

    summary: dict[str, dict] = {}
    failed = []
    for language in args.languages:
        data = ROOT / "tests" / "nlu" / f"{language}.yml"
        out = Path(args.out) / language
        out.mkdir(parents=True, exist_ok=True)
        result = await run_evaluation(
            str(data), agent.processor, output_directory=str(out), errors=True, disable_plotting=True
        )
        evaluation = result["intent_evaluation"]
        report = evaluation["report"]
        predictions = evaluation["predictions"]
        errors_path = out / "intent_errors.json"
        errors = json.loads(errors_path.read_text()) if errors_path.exists() else []
        f1 = report["weighted avg"]["f1-score"]
        started = time.perf_counter()
        deployed_accuracy, fallbacks = await deployed(agent.processor, data)
        seconds = time.perf_counter() - started
        weak = sorted(
            (name, values["f1-score"], int(values["support"]))
            for name, values in report.items()
            if isinstance(values, dict) and "support" in values and name not in ("nlu_fallback",)
            and not name.endswith(" avg") and values["support"] > 0 and values["f1-score"] < 1.0
        )
        weak.sort(key=lambda item: item[1])
        summary[language] = {
            "examples": len(predictions),
            "weighted_f1": round(f1, 4),
            "accuracy": round(report["accuracy"], 4),
            "macro_f1": round(report["macro avg"]["f1-score"], 4),
            "deployed_accuracy": round(deployed_accuracy, 4),
            "nlu_fallback": fallbacks,
            "ms_per_message": round(1000 * seconds / max(len(predictions), 1), 2),
            "confusions": [
                {"expected": e, "predicted": p, "count": n, "example": t} for e, p, n, t in confusions(errors)
            ],
            "weakest_intents": [{"intent": n, "f1": round(v, 3), "support": s} for n, v, s in weak],
        }
        ok = f1 >= args.threshold
        if not ok:
            failed.append(language)
        print(
            f"[{language}] {'PASS' if ok else 'FAIL'}  weighted F1 {f1:.3f}  accuracy {report['accuracy']:.3f}"
            f"  macro F1 {report['macro avg']['f1-score']:.3f}  ({len(predictions)} messages,"
            f" {len(errors)} wrong, {summary[language]['ms_per_message']} ms/msg)\n"
            f"    deployed: accuracy {deployed_accuracy:.3f} with {fallbacks} message(s) to nlu_fallback"
        )
        for name, value, support in weak[: args.worst]:
            print(f"    weakest  {name:<22} F1 {value:.3f}  (n={support})")
        for expected, predicted, count, text in confusions(errors)[: args.worst]:
            print(f"    {count}x {expected} -> {predicted}   e.g. {text!r}")

    summary["_meta"] = {"model": str(args.model), "threshold": args.threshold, "model_load_seconds": round(load_seconds, 1)}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"reports in {args.out}/<lang>/, summary in {args.out}/summary.json")
    if failed:
        print(f"FAIL: weighted intent F1 below {args.threshold} for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.model).is_file():
        print(f"no model at {args.model}", file=sys.stderr)
        return 2
    args.model = str(Path(args.model).resolve())
    args.out = str(Path(args.out).resolve())
    _quiet()
    # The pipeline's custom component is imported as `connectors.rasa.metadata_entities`: from the repository root.
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    return asyncio.run(evaluate(args))


if __name__ == "__main__":
    sys.exit(main())
