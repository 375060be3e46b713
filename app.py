"""segviz dashboard: `streamlit run app.py` opens the bundled sample_data/.

The dashboard lives in `segviz/dashboard/` (state, caches, sidebar, widgets, one module per view);
this file only points it at the folder it sits in, so the sample data is found. An installed segviz
starts the same dashboard with `segviz app [DATASET]`.
"""

from pathlib import Path

from segviz.dashboard.main import main

main(default_root=Path(__file__).resolve().parent)
