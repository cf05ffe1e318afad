import os
import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
from playwright.sync_api import expect, sync_playwright

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT = Path(__file__).resolve().parents[1]
SAMPLES = PROJECT / "raw_materials"
SCREENSHOTS = PROJECT / "test-artifacts" / "screenshots"
# what the fault suite proved, counted by its tests and printed as one line at the end of the run
FAULT_TALLY: Counter = Counter()
TALLY_LINE = ("kills survived", "inputs refused with reasons", "MLflow runs of killed processes marked KILLED, not left RUNNING")
TINY_RUN = {"max_steps": 2, "eval_steps": 2, "logging_steps": 1, "batch_size": 2, "sample_generations": 1, "sample_max_new_tokens": 8}


@pytest.fixture(scope="session")
def embedder():
    from persona_pipeline.rag.embedding import Embedder

    return Embedder()


@pytest.fixture
def materials(tmp_path) -> Path:
    target = tmp_path / "materials"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("worldview"))
    return target


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def smollm2():
    from persona_pipeline.training.base_model import prepare_base_model

    return prepare_base_model()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, smollm2):
    """A 2-layer random Llama with SmolLM2's tokenizer and chat template: real training code, seconds per run."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from persona_pipeline.training.base_model import BaseModel, load_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = load_tokenizer(smollm2)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, initializer_range=0.5, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return BaseModel(str(folder), str(folder), "tiny-random-llama", "test")


def train_core(materials: Path, data: Path, instance, uri: str, **overrides):
    """The CoreSelf dataset, a short LoRA run on the real base model (unless `overrides` names another), and the
    champion comparison. `overrides` are training settings for this run, as the Launchpad edits them."""
    from persona_pipeline.defs.runs import run_training
    from persona_pipeline.training.adapters import ADAPTERS

    return run_training(ADAPTERS["core"], materials, data, settings={**TINY_RUN, **overrides}, tracking_uri=uri, instance=instance)


@pytest.fixture(scope="session")
def core_runs(tmp_path_factory, smollm2):
    """Two short CoreSelf trainings into one MLflow store, shared by the tracking test and the MLflow UI test.
    The second has a zero learning rate: registered as version 2, but it must not take the champion alias."""
    root = tmp_path_factory.mktemp("core-runs")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    instance = dg.DagsterInstance.ephemeral()
    first = train_core(SAMPLES, root / "data", instance, uri)
    second = train_core(SAMPLES, root / "data", instance, uri, learning_rate=0.0)
    return SimpleNamespace(uri=uri, root=root, data=root / "data", instance=instance, first=first, second=second)


@pytest.fixture(scope="session")
def trained_world(tmp_path_factory, smollm2):
    """The samples indexed and both adapters trained for two steps, registered and made champion in a real
    MLflow store: what `persona ask` and `persona serve` answer from. Shared by the consilium and server tests."""
    import mlflow

    from persona_pipeline.defs.runs import run_knowledge
    from persona_pipeline.settings import Paths
    from persona_pipeline.sft.adapter_data import build_sft_dataset
    from persona_pipeline.training.adapters import ADAPTERS
    from persona_pipeline.training.pipeline import train_adapter
    from persona_pipeline.training.promotion import evaluate_and_promote
    from persona_pipeline.training.settings import TrainingSettings

    root = tmp_path_factory.mktemp("consilium")
    materials, data = root / "materials", root / "data"
    shutil.copytree(SAMPLES, materials)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        assert run_knowledge(materials, data).success
        paths = Paths.resolve(materials, data)
        # a high learning rate so two steps visibly move the adapters
        settings = TrainingSettings(max_steps=2, eval_steps=2, batch_size=2, learning_rate=0.003,
                                    sample_generations=1, sample_max_new_tokens=4)
        for key in ("core", "sport"):
            build_sft_dataset(ADAPTERS[key], paths, settings, smollm2)
            outcome = train_adapter(ADAPTERS[key], paths, settings, uri=uri)
            evaluate_and_promote(ADAPTERS[key], paths, settings, outcome.version, uri=uri)
    return SimpleNamespace(root=root, paths=paths, uri=uri)


def copy_of(world, root: Path):
    """The trained world's materials, data and MLflow store copied under `root`, for tests that write to
    them (promote, accept, train) without changing what other tests see: (paths, tracking uri)."""
    from persona_pipeline.settings import Paths

    shutil.copytree(world.paths.materials_dir, root / "materials")
    shutil.copytree(world.paths.data_dir, root / "data")
    shutil.copy(world.root / "mlflow.db", root / "mlflow.db")
    return Paths.resolve(root / "materials", root / "data"), f"sqlite:///{root / 'mlflow.db'}"


def without_persona_settings() -> dict:
    """This process's environment without PERSONA_* variables, for a `persona` process that must use its defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session; each test that uses it creates its own database."""
    from postgres_server import postgres_cluster

    with postgres_cluster() as server:
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    from ui_servers import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh does it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page; its screenshot goes to test-artifacts/screenshots/ when the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    # first-visit pop-ups that would cover the page: Dagster's community dialog, MLflow's assistant panel
    context.add_init_script("""
        localStorage.setItem('communityNux', '"1"');
        localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');
        localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');
    """)
    page = context.new_page()
    # the first page load of a freshly started server takes a while on 2 cores
    page.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)
    yield page
    report = getattr(request.node, "report_call", None)
    shot = SCREENSHOTS / f"{request.node.name}.png"
    if report is None or report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    else:
        shot.unlink(missing_ok=True)  # an earlier failure's picture would mislead
    context.close()


def pytest_terminal_summary(terminalreporter):
    if FAULT_TALLY:
        terminalreporter.write_line("fault suite: " + ", ".join(f"{FAULT_TALLY[what]} {what}" for what in TALLY_LINE))
