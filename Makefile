# Two commands do all set-up on a fresh machine: `make demo` and `make test`. Both bootstrap .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Passive OpenMP waiting: Ray actors share the cores (see docs/benchmarks.md).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo recipe recipe-long test test-fast bench venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m dance_rl.tune

# Issue 13's recipe (tune_configs/recipe_demo.yaml) on the embedded demo model. Its samples are conditioned on real
# songs as well as the corpus's synthesised music: 13 game soundtracks fetched once from two Debian packages
# (scripts/game_music.sh train, needs apt-get; ~85 MB download) into the cache. Then one training run (~14 min alone on 2 cores).
TRAIN_MUSIC := .cache/dance_rl/train_music
$(TRAIN_MUSIC):
	scripts/game_music.sh train $(TRAIN_MUSIC)

recipe: $(STAMP) $(TRAIN_MUSIC)
	$(BIN)/python -m dance_rl.train --config tune_configs/recipe_demo.yaml --out runs/recipe

# Issue 13's recipe on a base model pretrained 1800 steps (~8-13 min, once) instead of 5 minutes; then the sweep of the
# recipe and its ablation, one trial after the other (21.4 min for recipe_demo.yaml's 30-iteration version,
# session 15; not measured at today's 40 iterations).
# --resume: finishes an interrupted pretraining, does nothing once all 1800 steps are in the file.
LONG_BASE := .cache/dance_rl/base_model/demo_long.pt
recipe-long: $(STAMP) $(TRAIN_MUSIC)
	$(BIN)/python -m dance_rl.pretrain --config tune_configs/recipe_long.yaml --out $(LONG_BASE) --resume
	$(BIN)/python -m dance_rl.tune --config tune_configs/recipe_long.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	for s in scripts/bench_*.py; do $(BIN)/python $$s || exit 1; done

clean:
	rm -rf .cache runs
