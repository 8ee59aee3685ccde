"""New analysis: choose the ID and product columns and the model settings, then start a run."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import cached, state
from ui.api_client import ApiError, get_client
from ui.components import param_inputs, show_error
from ui.params_form import specs_from_schema, validate
from ui.tables import default_products, guess_id_column

NO_ID = "(no ID column)"

st.title("New analysis")

dataset = state.current_dataset()
if dataset is None:
    st.info("Upload a file to begin: the analysis runs on your purchase data.",
            icon=":material/upload:")
    st.page_link("views/data.py", label="Go to Data", icon=":material/upload_file:")
    st.stop()

try:
    models = cached.models()
except ApiError as exc:
    show_error(exc)
    st.stop()
if not models:
    st.error("The analysis service offers no models right now.")
    st.stop()

columns: list[dict[str, Any]] = dataset["columns"]
names = [c["name"] for c in columns]
by_name = {c["name"]: c for c in columns}

# Fresh choices whenever the dataset changes; afterwards the widgets own them.
fresh = st.session_state[state.FORM_DATASET_ID] != dataset["id"]
if fresh or state.PRODUCTS not in st.session_state:
    guessed = guess_id_column(columns, dataset.get("n_rows"))
    st.session_state[state.ID_COLUMN] = guessed or NO_ID
    st.session_state[state.PRODUCTS] = default_products(columns, guessed)
    st.session_state[state.FORM_DATASET_ID] = dataset["id"]


def _id_changed() -> None:
    chosen = st.session_state[state.ID_COLUMN]
    id_column = None if chosen == NO_ID else chosen
    st.session_state[state.PRODUCTS] = default_products(columns, id_column)


st.caption(
    f"Data: **{dataset['name']}** · {dataset['n_rows']:,} households · "
    f"{dataset['n_columns']} columns"
)

with st.container(border=True):
    st.markdown("#### 1 · Columns")
    id_choice = st.selectbox(
        "Household ID column",
        [NO_ID, *names],
        key=state.ID_COLUMN,
        on_change=_id_changed,
        help="Identifies each household in the downloaded assignments. Not used in the fit.",
    )
    id_column = None if id_choice == NO_ID else id_choice
    products = st.multiselect(
        "Products",
        [n for n in names if n != id_column],
        key=state.PRODUCTS,
        help="The 0/1 purchase columns to segment on. All 0/1 columns are chosen to start with.",
    )
    not_binary = [p for p in products if not by_name[p].get("is_binary")]
    if not_binary:
        st.warning(
            f"{', '.join(not_binary)} {'has' if len(not_binary) == 1 else 'have'} values other "
            "than 0/1 and will be refused. Remove them or recode them as 0/1.",
            icon=":material/warning:",
        )
    else:
        st.caption(f"{len(products)} products selected.")

with st.container(border=True):
    st.markdown("#### 2 · Model")
    titles = {m["model_type"]: m["title"] for m in models}
    if len(models) > 1:
        model_type = st.selectbox("Kind of analysis", list(titles), format_func=titles.__getitem__)
    else:
        model_type = models[0]["model_type"]
        st.markdown(f"**{titles[model_type]}**")
    model = next(m for m in models if m["model_type"] == model_type)
    st.caption(model.get("description", ""))
    specs = specs_from_schema(model.get("params_schema", {}))
    params = param_inputs(specs, key_prefix=f"{state.PARAMS_PREFIX}.{model_type}")

with st.container(border=True):
    st.markdown("#### 3 · Start")
    headline = next((params[s.name] for s in specs if not s.advanced), None)
    default_name = f"{dataset['name']} · {headline} segments" if headline else dataset["name"]
    run_name = st.text_input("Name this run", placeholder=default_name,
                             help="Shown in the list of runs. You can leave it empty.")
    problems = [p for s in specs if (p := validate(s, params.get(s.name)))]
    if len(products) < 2:
        problems.insert(0, "Choose at least two products.")
    for problem in problems:
        st.caption(f":material/info: {problem}")
    start = st.button("Start analysis", type="primary", icon=":material/play_arrow:",
                      disabled=bool(problems))

if start:
    body = {
        "model_type": model_type,
        "name": run_name.strip() or default_name,
        "params": params,
        "dataset_id": dataset["id"],
        "product_columns": products,
        "id_column": id_column,
    }
    try:
        run = get_client().submit_run(body)
    except ApiError as exc:
        show_error(exc)
    else:
        st.session_state[state.RUN_ID] = run["id"]
        state.flash(f"Started “{run['name']}”.", icon=":material/rocket_launch:")
        st.switch_page("views/results.py")
