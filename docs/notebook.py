# %% [markdown]
# # dataex from a notebook
#
# An insurer's AI team finds outpatient data, gets a contract, asks a differentially private question
# and takes a fingerprinted extract — five lines against a dataex node's HTTP API.
#
# This file is a notebook in the *percent* format (`# %%` starts a cell; VS Code, PyCharm, Spyder and
# Jupyter with jupytext open it as one). `tests/sdk/test_notebook.py` executes it in a Jupyter kernel
# and renders it to HTML on every CI run, so what you read here runs.
#
# The first cell only sets the scene: a throwaway node in a temporary directory, where a hospital has
# registered its visits and offered them at L1 (DP answers) and L4 (extracts), served by
# `dataex serve` on loopback. Against a real node you would skip it and use its URL and your token.

# %%
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SETUP = """
import json, sys
from pathlib import Path
import pyarrow as pa, pyarrow.csv as pacsv
import dataex
from dataex.delivery.tolerances import set_tolerances

work = Path(sys.argv[1])
node, _ = dataex.Exchange.init(home=work / "node")
hospital, hospital_token = node.create_party("浙江某医院", kind="hospital", role="provider")
_, insurer_token = node.create_party("某保险公司 AI 团队", kind="insurer", role="consumer")
diagnoses = ["上呼吸道感染", "高血压", "糖尿病", "胃炎"]
visits = [{"patient_id": f"P{i // 2:04d}", "age": 20 + (i * 7) % 70, "diagnosis": diagnoses[i % 4],
           "cost": 50.0 + (i * 37) % 400} for i in range(400)]
pacsv.write_csv(pa.Table.from_pylist(visits), work / "visits.csv")
with dataex.open(work / "node", hospital_token) as provider:
    ds = provider.register(work / "visits.csv", "门诊 诊断 记录 (outpatient visits)", "proprietary")
    ds.set_privacy(unit="patient_id", max_contributions=2, bounds={"cost": (0, 500)}, domains={"diagnosis": diagnoses})
    ds.offer("L1", purposes=["ai-training"], epsilon=3.0, approval="auto")
    set_tolerances(node, ds.id, {"cost": 1}, actor=hospital)  # extracts are fingerprinted in cost
    ds.offer("L4", purposes=["ai-training"], approval="auto", legal_basis="consent")
node.close()
print(json.dumps({"insurer": insurer_token, "hospital": hospital_token}))
"""
work = Path(tempfile.mkdtemp(prefix="dataex-notebook-"))
made = subprocess.run([sys.executable, "-c", SETUP, str(work)], check=True, capture_output=True, text=True)
TOKENS = json.loads(made.stdout.splitlines()[-1])
INSURER, HOSPITAL = TOKENS["insurer"], TOKENS["hospital"]

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
serve = [sys.executable, "-c", "from dataex.cli.main import main; main()", "serve", "--home", str(work / "node")]
log = (work / "serve.log").open("w")
node = subprocess.Popen([*serve, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)  # `dataex serve`
URL = f"http://127.0.0.1:{port}"
for _ in range(300):  # up to 30 s for the server to answer
    try:
        httpx.get(f"{URL}/version", timeout=1)
        break
    except httpx.TransportError:
        time.sleep(0.1)

# %% [markdown]
# ## The five lines
# Connect, search (Chinese and English), read the quality report, request a contract and query it.

# %%
import dataex

ex = dataex.connect(URL, token=INSURER)  # or dataex.open("./node", token=...) for a local node
hits = ex.search("门诊 诊断")
ds = hits[0]
ds.quality()

# %%
c = ex.request(ds.offers[0], purpose="ai-training").wait_until_approved(timeout=600)
df = c.query("SELECT diagnosis, COUNT(*) AS n FROM visits GROUP BY diagnosis", epsilon=0.5)
df

# %% [markdown]
# Every released number comes with its 95% noise interval (`n_ci_low`, `n_ci_high`); `df.attrs`
# says what the answer cost and what is left of the contract's ε budget.

# %%
df.attrs["epsilon_charged"], df.attrs["epsilon_remaining"]

# %% [markdown]
# ## An extract (L3/L4 contracts)
# The rows come back as a `pyarrow.Table`, fingerprinted for this contract: a leaked copy can be
# traced back to it.

# %%
full = ex.request(ds.offers[1], purpose="ai-training").wait_until_approved(timeout=600)
tbl = full.extract(format="arrow")
tbl.num_rows, tbl.column_names

# %% [markdown]
# ## In-process, for a provider's scripts
# `dataex.open(home, token)` runs the same services in this process, with the same methods and
# return types: here the hospital registers another year of visits from the notebook. The file is
# classified and scored as it is registered (DuckDB runs in the notebook's own process).

# %%
import pyarrow as pa
import pyarrow.csv as pacsv

more = [{"patient_id": f"Q{i:04d}", "age": 30 + i % 50, "diagnosis": "高血压", "cost": 80.0 + i} for i in range(120)]
pacsv.write_csv(pa.Table.from_pylist(more), work / "visits-2026.csv")
with dataex.open(work / "node", token=HOSPITAL) as provider:
    mine = provider.register(work / "visits-2026.csv", "门诊 2026 (outpatient visits)", "proprietary")
    report = mine.quality()
"registered in-process", mine.rows, report.grade in "ABCD"

# %%
ex.close()
node.terminate()
_ = node.wait(timeout=30)
log.close()
