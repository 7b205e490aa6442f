# Two commands: `make demo` and `make test`. Both install what they need first.
VENV     := .venv
PYTHON   := $(VENV)/bin/python
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
# Media probing and sample generation; zzuf (hostile fixtures, fuzzing); IMAP server and
# PostgreSQL 15 for tests; PDF export and CJK fonts (texlive-lang-chinese is the only Debian
# package with the Fandol faces: FangSong, Kai); Chromium (and its driver) for the console's
# browser tests.
SYSTEM_PACKAGES := ffmpeg mediainfo libmediainfo0v5 libimage-exiftool-perl zzuf \
	dovecot-imapd postgresql poppler-utils fonts-noto-cjk fonts-arphic-ukai fonts-arphic-uming \
	texlive-lang-chinese libreoffice-writer-nogui python3-uno chromium chromium-driver

.PHONY: demo test lint bench system venv clean

system:
	@scripts/install-system-packages.sh $(SYSTEM_PACKAGES)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e '.[test,pdf,bench]'
	touch $(STAMP)

venv: $(STAMP)

# The main job on the embedded defaults (config.yaml): sample files, then their verdicts.
# `validate` exits 1 because the samples include files that fail on purpose; 2 is a real error.
demo: system venv
	$(PYTHON) -m safetymonth.samples var/samples
	$(BIN)/safetymonth validate var/samples || test $$? -eq 1
	# Intake: a week of sample mail into the Maildir inbox, one poll, the unit report.
	$(PYTHON) -m safetymonth.mailbox.samplemail var/inbox
	$(BIN)/safetymonth poll --once
	$(BIN)/safetymonth report
	@echo "The replies are in var/outbox/new/ (one file per reply)."
	# Documents (GB/T 9704): the example notices, the letters and the summary, with PDFs.
	# A leading '-': a missing LibreOffice (PDF export) must not stop the rest of the demo.
	-$(BIN)/safetymonth generate notice examples/notice-weihai-2016.yaml -o var/out/notice-weihai-2016.docx --pdf
	-$(BIN)/safetymonth generate notice examples/notice-dehua-2024.yaml -o var/out/notice-dehua-2024.docx --pdf
	-$(BIN)/safetymonth generate letter examples/letters-2024.yaml -o var/out/letters --pdf
	-$(BIN)/safetymonth generate summary examples/summary-2024.yaml -o var/out/summary-2024.docx --pdf

test: system venv
	$(BIN)/ruff check safetymonth tests bench
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check safetymonth tests bench

bench: system venv
	$(PYTHON) bench/validate.py
	$(PYTHON) bench/docgen.py
	$(PYTHON) bench/console.py

clean:
	rm -rf var/ .pytest_cache
