"""New analysis: choose the columns, the kind of model and its settings, then start a run."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import cached, state
from ui.api_client import ApiError, get_client
from ui.components import param_input, param_inputs, show_error
from ui.families import household_features, plural, unit
from ui.formatting import escape_markdown
from ui.panels.choice import FEATURES_PARAM, offers_product_features, product_features_input
from ui.params_form import specs_from_schema, sweep_value, sweepable, validate
from ui.tables import default_covariates, default_products, guess_id_column

NO_ID = "(no ID column)"
COVARIATES_KEY = "form.covariates"
WEIGHT_KEY = "form.weight"
OUTCOMES_KEY = "form.outcomes"
NO_WEIGHT = "(none: every household counts once)"
MODEL_KEY = "form.model_type"

st.title("New analysis")

dataset = state.current_dataset()
if dataset is None:
    # After a reload the session has no dataset, but the saved ones are still there.
    try:
        saved: list[dict[str, Any]] = get_client().list_datasets(limit=100).get("items", [])
    except ApiError:
        saved = []
    if saved:
        st.info("Choose one of your saved datasets, or upload a new file on the Data page.",
                icon=":material/dataset:")
        by_id = {d["id"]: d for d in saved}
        picked = st.selectbox(
            "Saved datasets", list(by_id), index=None, placeholder="Choose a dataset…",
            format_func=lambda i: f"{by_id[i]['name']} · {by_id[i]['n_rows']:,} rows",
            key="form.saved_dataset")
        if picked:
            try:
                state.set_dataset(get_client().get_dataset(picked))
            except ApiError as exc:
                show_error(exc)
                st.stop()
            st.rerun()
    else:
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
roles = state.roles_for(dataset["id"])

# Fresh choices whenever the dataset changes (from the Data page's roles when it set them);
# afterwards the widgets own them.
fresh = st.session_state[state.FORM_DATASET_ID] != dataset["id"]
if fresh or state.PRODUCTS not in st.session_state:
    if roles:
        guessed = roles.get("id_column")
        chosen = [p for p in roles.get("products", []) if p in by_name]
        features = [c for c in roles.get("covariates", []) if c in by_name]
    else:
        guessed = guess_id_column(columns, dataset.get("n_rows"))
        chosen = default_products(columns, guessed)
        features = default_covariates(columns, guessed, dataset.get("n_rows"))
    st.session_state[state.ID_COLUMN] = guessed or NO_ID
    st.session_state[state.PRODUCTS] = chosen
    st.session_state[COVARIATES_KEY] = features
    st.session_state[OUTCOMES_KEY] = []
    st.session_state[state.FORM_DATASET_ID] = dataset["id"]


def _id_changed() -> None:
    chosen = st.session_state[state.ID_COLUMN]
    id_column = None if chosen == NO_ID else chosen
    st.session_state[state.PRODUCTS] = default_products(columns, id_column)
    st.session_state[COVARIATES_KEY] = [
        c for c in st.session_state.get(COVARIATES_KEY, []) if c != id_column]


st.caption(
    f"Data: **{escape_markdown(dataset['name'])}** · {dataset['n_rows']:,} households · "
    f"{dataset['n_columns']} columns"
)

titles = {m["model_type"]: m["title"] for m in models}
descriptions = {m["model_type"]: m.get("description", "") for m in models}
if st.session_state.get(MODEL_KEY) not in titles:
    st.session_state[MODEL_KEY] = models[0]["model_type"]

left, right = st.columns([2, 3], gap="large")
with left, st.container(border=True):
    st.markdown("#### 1 · What to look for")
    model_type: str = st.radio(
        "Kind of analysis", list(titles), format_func=titles.__getitem__,
        captions=[descriptions[t] for t in titles], key=MODEL_KEY,
        label_visibility="collapsed",
    )
model = next(m for m in models if m["model_type"] == model_type)
# The specification says whether runs of the family use household features.
features_wanted = household_features(model)
uses_covariates = features_wanted != "none"
word = unit(model).lower()

with right:
    with st.container(border=True):
        st.markdown("#### 2 · Columns")
        id_choice = st.selectbox(
            "Household ID column", [NO_ID, *names], key=state.ID_COLUMN, on_change=_id_changed,
            help="Identifies each household in the downloaded results. Not used in the fit.",
        )
        id_column = None if id_choice == NO_ID else id_choice
        products = st.multiselect(
            "Products", [n for n in names if n != id_column], key=state.PRODUCTS,
            help="The 0/1 purchase columns to analyse.",
        )
        not_binary = [p for p in products if not by_name[p].get("is_binary")]
        if not_binary:
            st.warning(
                f"{escape_markdown(', '.join(not_binary))} "
                f"{'has' if len(not_binary) == 1 else 'have'} values "
                "other than 0/1 and will be refused. Remove them or recode them as 0/1.",
                icon=":material/warning:",
            )
        else:
            st.caption(f"{len(products)} products selected.")
        covariates: list[str] = []
        if uses_covariates:
            explains = features_wanted == "required" or model.get("kind") == "choice"
            covariates = st.multiselect(
                "Household features" + ("" if explains else " to profile by (optional)"),
                [n for n in names if n != id_column and n not in products],
                key=COVARIATES_KEY,
                help="Household characteristics (size, age, income, region…) that may explain "
                "who belongs where. Numbers are standardised; text becomes categories."
                if explains
                else f"Household characteristics (age, region, income…) that describe who is in "
                f"each {word} (“Who they are”); they do not change the {plural(word)}.",
            )
        outcomes: list[str] = []
        if "distal_columns" in (model.get("params_schema") or {}).get("properties", {}):
            allowed = [n for n in names if n != id_column and n not in (*products, *covariates)]
            st.session_state[OUTCOMES_KEY] = [
                n for n in st.session_state.get(OUTCOMES_KEY, []) if n in allowed]
            outcomes = st.multiselect(
                "Outcomes to compare (optional)",
                allowed,
                key=OUTCOMES_KEY,
                help=f"Columns such as spend or churn compared between the {plural(word)} by "
                "3-step estimation (corrected for misassigned households); they do not change "
                f"the {plural(word)}.",
            )
        weight_choice = st.selectbox(
            "Weights (optional)",
            [NO_WEIGHT, *[n for n in names
                          if n not in (id_column, *products, *covariates, *outcomes)
                          and not by_name[n].get("is_binary")]],
            key=WEIGHT_KEY,
            help="A column of case or survey weights: each household counts as its weight. "
            "Every row needs a positive number.",
        )
        weight_column = None if weight_choice == NO_WEIGHT else weight_choice
        feature_table = (
            product_features_input(dataset["id"]) if offers_product_features(model) else None
        )

    with st.container(border=True):
        st.markdown("#### 3 · Settings")
        specs = [s for s in specs_from_schema(model.get("params_schema", {}))
                 if s.name != FEATURES_PARAM]  # chosen with the columns above
        key_prefix = f"{state.PARAMS_PREFIX}.{model_type}"
        head = next((s for s in specs if not s.advanced), None)
        params: dict[str, Any] = {}
        headline_text = ""
        if head is not None and head.kind == "int" and sweepable(model, head):
            sweep = st.toggle(
                f"Compare several numbers of {plural(word)}", key=f"{key_prefix}.sweep",
                help="Fits one model per number and recommends the best (lowest BIC, or the "
                "elbow of the error curve). Each fit runs on its own, side by side.",
            )
            if sweep:
                low = int(head.minimum or 1)
                high = int(head.maximum or 20)
                default = (max(low, 2), min(high, 6))
                lo, hi = st.slider(f"{head.label}: from … to", low, min(high, low + 19),
                                   default, key=f"{key_prefix}.range")
                params[head.name] = sweep_value(model, head, lo, hi)
                headline_text = f"{lo}–{hi} {plural(word)}"
            else:
                params[head.name] = param_input(head, key_prefix)
                headline_text = f"{params[head.name]} {plural(word)}" if params[head.name] else ""
            params.update(param_inputs(specs, key_prefix, skip=frozenset({head.name})))
        else:
            params.update(param_inputs(specs, key_prefix))
            if head is not None and params.get(head.name) is not None:
                headline_text = f"{params[head.name]} {plural(word)}"

with st.container(border=True):
    st.markdown("#### 4 · Start")
    default_name = " · ".join(x for x in (dataset["name"], titles[model_type], headline_text) if x)
    run_name = st.text_input("Name this run", placeholder=default_name,
                             help="Shown in the list of runs. You can leave it empty.")
    problems = [p for s in specs if (p := validate(s, params.get(s.name)))]
    if len(products) < 2:
        problems.insert(0, "Choose at least two products.")
    if features_wanted == "required" and not covariates:
        problems.append("Choose at least one household feature for this kind of analysis.")
    for problem in problems:
        st.caption(f":material/info: {escape_markdown(problem)}")
    start = st.button("Start analysis", type="primary", icon=":material/play_arrow:",
                      disabled=bool(problems))

if start:
    body: dict[str, Any] = {
        "model_type": model_type,
        "name": run_name.strip() or default_name,
        "params": params,
        "dataset_id": dataset["id"],
        "product_columns": products,
        "id_column": id_column,
    }
    if uses_covariates:
        body["covariate_columns"] = covariates
    if weight_column:
        body["weight_column"] = weight_column
    if outcomes:
        body["params"] = {**params, "distal_columns": outcomes}
    if feature_table:
        body["params"] = {**body["params"], FEATURES_PARAM: feature_table}
    try:
        run = get_client().submit_run(body)
    except ApiError as exc:
        show_error(exc)
    else:
        st.session_state[state.RUN_ID] = run["id"]
        state.flash(f"Started “{escape_markdown(run['name'])}”.", icon=":material/rocket_launch:")
        st.switch_page("views/results.py")
