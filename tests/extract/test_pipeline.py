"""The pipeline is assembled from config.cfg on the packaged model and serialises the spaCy way."""

from __future__ import annotations

import pytest
import spacy

from secondary_crimes.extract.components import LiteralSplitter, read_patterns, read_vocabulary
from secondary_crimes.extract.pipeline import load_config


def test_pipeline_from_config(nlp):
    config = load_config()
    assert nlp.pipe_names == list(config["extract"]["keep"]) + list(config["extract"]["pipeline"])
    assert "parser" not in nlp.pipe_names and "tagger" not in nlp.pipe_names


def test_patterns_are_data(nlp):
    for name in ("indicators.jsonl", "relationships.jsonl", "reporters.jsonl"):
        assert len(read_patterns(name)) > 10
    # Role words and shorthand are one vocabulary the role ruler (and sc_people) read.
    assert len(read_vocabulary("role_words.jsonl")) > 300
    assert len(nlp.get_pipe("sc_roles").patterns) > 10


def test_log_lines_are_sentences(nlp):
    doc = nlp("2210 caller states no injuries\n2211 he punched her")
    assert len(list(doc.sents)) == 2
    punch = [s for s in doc.spans["sc_indicators"] if s.label_ == "punch"][0]
    assert not punch._.sc_negated  # the line break ends the negation's scope


def test_to_disk_from_disk_round_trip(nlp, tmp_path):
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.pipe_names == nlp.pipe_names
    text = "IP states no injuries but OP had his hands around her neck."
    doc_before, doc_after = nlp(text), loaded(text)
    before = [(s.text, s.label_, s._.sc_negated) for s in doc_before.spans["sc_indicators"]]
    after = [(s.text, s.label_, s._.sc_negated) for s in doc_after.spans["sc_indicators"]]
    assert before == after and ("injuries", "injury", True) in after


def test_wide_quantifiers_are_refused(tmp_path):
    """A {0,25} gap made the indicator Matcher take 90% of scoring time: refused, file and line named."""
    path = tmp_path / "wide.jsonl"
    path.write_text(
        '{"label": "ok", "pattern": [{"LOWER": "woke"}, {"IS_PUNCT": false, "OP": "{0,12}"}, {"LOWER": "sex"}]}\n'
        '{"label": "slow", "pattern": [{"LOWER": "woke"}, {"IS_PUNCT": false, "OP": "{0,25}"}, {"LOWER": "sex"}]}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"wide\.jsonl:2: quantifier \{0,25\}"):
        read_patterns(str(path))
    path.write_text('{"label": "open", "pattern": [{"LOWER": "a"}, {"OP": "{2,}"}]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"wide\.jsonl:1: quantifier \{2,\}"):
        read_patterns(str(path))


def test_a_named_word_list_stands_for_its_words_and_an_unknown_name_is_refused(nlp, tmp_path):
    """"$person_object" in an IN list reads as that list's words (plus any written beside it), in the
    patterns and in the words the people component knows are not names; an unknown name names file and line."""
    from secondary_crimes.extract.components import pattern_words, read_word_lists

    person = read_word_lists()["person_object"]
    assert {"her", "him", "victim", "ip", "husband"} <= set(person) and len(person) == len(set(person))
    path = tmp_path / "named.jsonl"
    path.write_text(
        '{"label": "push", "pattern": [{"LOWER": "shoved"}, {"LOWER": {"IN": ["$person_object", "granny"]}}]}\n',
        encoding="utf-8",
    )
    [pattern] = read_patterns(str(path), nlp)
    assert pattern["pattern"][1] == {"LOWER": {"IN": [*person, "granny"]}}
    assert {"granny", "husband"} <= pattern_words([str(path)]) and "$person_object" not in pattern_words([str(path)])
    blank = spacy.blank("en")
    blank.add_pipe("span_ruler").add_patterns([pattern])
    doc = blank("He shoved the victim. He shoved her. He shoved granny.")
    assert [s.text for s in doc.spans["ruler"]] == ["shoved her", "shoved granny"]
    path.write_text('{"label": "x", "pattern": [{"LOWER": {"NOT_IN": ["$persons"]}}, {"LOWER": "y"}]}\n',
                    encoding="utf-8")
    with pytest.raises(ValueError, match=r"named\.jsonl:1: no word list named 'persons'"):
        read_patterns(str(path))


def test_word_lists_are_each_used_and_defined_once():
    from secondary_crimes.extract.components import PATTERNS_DIR, read_word_lists

    text = "".join(path.read_text(encoding="utf-8") for path in sorted(PATTERNS_DIR.glob("*.jsonl")))
    for name in read_word_lists():
        assert f'"${name}"' in text, f"the word list {name!r} is used by no pattern"


def test_words_the_tokenizer_splits_become_their_pieces(nlp, tmp_path):
    """ "victim's", "didn't" and "b/f" are two or three tokens to spaCy, so a pattern naming them whole
    never matched: read with the pipeline, each becomes its pieces (its own pattern inside an IN
    list, the gap's words inside a gap), keeping what one token still reads ("Dr." is one)."""
    path = tmp_path / "split.jsonl"
    path.write_text(
        '{"label": "whole", "pattern": [{"LOWER": "smashed"}, {"LOWER": "victim\'s"}, {"LOWER": "car"}]}\n'
        '{"label": "listed", "pattern": [{"LOWER": {"IN": ["did", "didn\'t"]}}, {"LOWER": "leave"}]}\n'
        '{"label": "optional", "pattern": [{"LOWER": "took"}, {"LOWER": {"IN": ["ip\'s"]}, "OP": "?"}, '
        '{"LOWER": "bag"}]}\n'
        '{"label": "gap", "pattern": [{"LOWER": "broke"}, {"LOWER": {"IN": ["the", "caller\'s"]}, "OP": "{0,2}"}, '
        '{"LOWER": "window"}]}\n'
        '{"label": "title", "pattern": [{"LOWER": "dr."}, {"LOWER": "patel"}]}\n',
        encoding="utf-8",
    )
    patterns = read_patterns(str(path), nlp)
    assert [p["pattern"] for p in patterns if p["label"] == "listed"] == [
        [{"LOWER": {"IN": ["did", "didn't"]}}, {"LOWER": "leave"}],  # "DIDN'T" is one token
        [{"LOWER": "did"}, {"LOWER": "n't"}, {"LOWER": "leave"}],
    ]
    assert [p["pattern"][1] for p in patterns if p["label"] == "gap"] == [
        {"LOWER": {"IN": ["the", "caller", "'s"]}, "OP": "{0,3}"}
    ]
    blank = spacy.blank("en")
    blank.add_pipe("span_ruler").add_patterns(patterns)
    texts = ("He smashed victim's car.", "She didn't leave.", "He took IP's bag.", "He took bag.",
             "They broke the caller's window.", "Dr. Patel called.", "dr. patel called.")
    found = {doc.text: [s.label_ for s in doc.spans["ruler"]] for doc in blank.pipe(texts)}
    assert found == {
        "He smashed victim's car.": ["whole"], "She didn't leave.": ["listed"], "He took IP's bag.": ["optional"],
        "He took bag.": ["optional"], "They broke the caller's window.": ["gap"], "Dr. Patel called.": ["title"],
        "dr. patel called.": ["title"],
    }
    assert read_patterns(str(path))[0]["pattern"][1] == {"LOWER": "victim's"}  # without nlp: as written


@pytest.mark.parametrize("name", ["indicators.jsonl", "relationships.jsonl", "reporters.jsonl", "caller_cues.jsonl"])
def test_no_pattern_word_is_dead(nlp, name):
    """Every word the project's patterns name, once read with the pipeline, is one token as some text writes it
    (alone, or as a piece of a special case such as "'ve" of "I've")."""
    splitter = LiteralSplitter(nlp)
    for pattern in read_patterns(name, nlp):
        for token in pattern["pattern"]:
            lower = token.get("LOWER")
            words = [lower] if isinstance(lower, str) else lower.get("IN", []) if isinstance(lower, dict) else []
            for word in words:
                assert any(len(form) == 1 for form in splitter.forms(word)), (name, word)


def test_long_gap_within_a_sentence_still_matches(nlp):
    """The wake-to-find patterns span a gap of any length inside one sentence, never across two."""
    long_gap = ("She woke at about 6am in the spare room of the flat that she had been sharing with "
                "friends from work since the summer to find him having sex with her.")
    doc = nlp(long_gap)
    assert "rape" in {s.label_ for s in doc.spans["sc_indicators"]}
    doc = nlp("She woke at 6am and went to work. Later he said they had sex.")
    assert "rape" not in {s.label_ for s in doc.spans["sc_indicators"]}


def test_gate_reads_past_an_opening_gap_that_may_match_nothing():
    """A pattern that opens with "{0,2}" words may start at the word after them: the gate must look for that."""
    from secondary_crimes.extract.components import GatedSpanRuler

    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    ruler = GatedSpanRuler(blank, "gap", validate=True)
    gap_then_car = [{"LOWER": {"IN": ["the", "a"]}, "OP": "{0,2}"}, {"LOWER": "car"}]
    ruler.add_patterns([{"label": "car", "pattern": gap_then_car}])
    assert ruler._gated
    assert [s.text for s in ruler.match(blank("Police attended. Car stolen overnight."))] == ["Car"]


def test_required_words_are_the_shortest_list_a_match_must_hold():
    """Optional tokens, gaps and guards need nothing; of the tokens that must match, the shortest list wins."""
    from secondary_crimes.extract.components import required_words

    person = {"LOWER": {"IN": ["her", "him", "me", "the", "victim"]}}
    assert required_words([{"LOWER": {"IN": ["punched", "punches"]}}, person]) == {"punched", "punches"}
    assert required_words([{"LOWER": {"NOT_IN": ["car"]}}, {"LOWER": "threw"}, person]) == {"threw"}
    assert required_words([{"LOWER": "not", "OP": "?"}, {"LOWER": {"IN": ["a", "b"]}, "OP": "{0,3}"}, person]) == {
        "her", "him", "me", "the", "victim"}
    assert required_words([{"LOWER": {"IN": ["x", "y"]}, "OP": "{1,3}"}, person]) == {"x", "y"}
    assert required_words([{"LOWER": {"REGEX": "^\\d+yo$"}}]) is None
    assert required_words([{"LIKE_NUM": True}, {"LOWER": "stolen", "OP": "!"}]) is None


def test_patterns_are_tried_only_where_their_words_are_and_regexes_everywhere():
    """Each pattern is put through a sentence only when it holds one of its required words; a pattern
    that needs no listed word (a regex) is tried on every sentence. Matches are those of one Matcher."""
    from secondary_crimes.extract.components import GatedSpanRuler

    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    ruler = GatedSpanRuler(blank, "groups", validate=True)
    ruler.add_patterns([
        {"label": "punch", "pattern": [{"LOWER": {"IN": ["punched", "hit"]}}, {"LOWER": {"IN": ["her", "him"]}}]},
        {"label": "child", "pattern": [{"LOWER": {"REGEX": "^\\d+yo$"}}]},
        {"label": "threat", "pattern": [{"LOWER": "kill"}, {"LOWER": "you", "OP": "?"}]},
    ])
    assert len(ruler._groups) == 2 and ruler._ungated is not None
    assert {word: len(groups) for word, groups in ruler._by_word.items()} == {"punched": 1, "hit": 1, "kill": 1}
    doc = blank("He punched her. Boy 12yo present. I will kill you. Hit him again. Nothing here.")
    gated = [(s.text, s.label_) for s in ruler.match(doc)]
    ruler._gated = False
    assert gated == [(s.text, s.label_) for s in ruler.match(doc)]
    assert gated == [("punched her", "punch"), ("12yo", "child"), ("kill", "threat"), ("kill you", "threat"),
                     ("Hit him", "punch")]


def test_a_phrase_pattern_turns_the_gate_off_and_still_matches():
    """A string pattern goes to spaCy's PhraseMatcher, which the word groups cannot hold: the ruler
    then runs every pattern on every sentence, as SpanRuler does."""
    from secondary_crimes.extract.components import GatedSpanRuler

    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    ruler = GatedSpanRuler(blank, "phrase", validate=True)
    ruler.add_patterns([{"label": "push", "pattern": "shoved her"}, {"label": "kick", "pattern": [{"LOWER": "kick"}]}])
    assert not ruler._gated
    doc = blank("He shoved her. Then a kick.")
    assert [(s.text, s.label_) for s in ruler.match(doc)] == [("shoved her", "push"), ("kick", "kick")]


@pytest.mark.parametrize("gated", [True, False])
def test_guard_tokens_must_be_there_but_stay_out_of_the_span(gated):
    """An opening or closing "any word but these" token guards the match ("a car hit a man", "hit a man's
    car") without joining the span ("partner hit the victim" is the blow "hit the victim")."""
    from secondary_crimes.extract.components import GatedSpanRuler

    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    ruler = GatedSpanRuler(blank, "guard", validate=True)
    guarded = [{"LOWER": {"NOT_IN": ["car", "ball"]}}, {"LOWER": "hit"}, {"LOWER": {"IN": ["a", "the"]}},
               {"LOWER": {"IN": ["man", "victim"]}}, {"LOWER": {"NOT_IN": ["'s"]}}]
    ruler.add_patterns([{"label": "blow", "pattern": guarded}, {"label": "hand", "pattern": [
        {"LOWER": {"NOT_IN": ["her"]}}, {"LOWER": "hand"}]}])
    ruler._gated = gated
    doc = blank("Her partner hit the victim. A car hit a man. He hit a man's car. His hand, her hand.")
    assert [(s.text, s.label_) for s in ruler.match(doc)] == [("hit the victim", "blow"), ("hand", "hand")]
    # a closing guard is passed where no word follows: the sentence's or the text's end
    ended = blank("He hit a man. Later he hit the victim")
    assert [s.text for s in ruler.match(ended)] == ["hit a man", "hit the victim"]
    assert [s.text for s in ruler.match(blank("He hit the victim's car"))] == []


@pytest.mark.parametrize("name", ["sc_indicators", "sc_relationships", "sc_reporters"])
def test_sentence_gate_is_on_and_finds_what_every_sentence_would(nlp, name):
    """The gate skips sentences holding no word a pattern needs, and skips nothing that matches."""
    ruler = nlp.get_pipe(name)
    assert ruler._gated, f"{name}: a pattern's opening words could not be read, so every sentence is matched"
    texts = [
        "She put her hand over her mouth in shock. Hand over her mouth, he dragged her inside.",
        "Caller: ex-partner punched her. RP: mother of IP. 0321 G1 on scene.",
        "He kicked in the communal entrance door and slashed all 4 tyres on her car.",
        "IP states her husband has been sending texts day after day and parked across from her flat.",
    ]
    for doc in nlp.pipe(texts):
        gated = [(s.start, s.end, s.label_) for s in ruler.match(doc)]
        ruler._gated = False
        try:
            every = [(s.start, s.end, s.label_) for s in ruler.match(doc)]
        finally:
            ruler._gated = True
        assert gated == every


@pytest.mark.parametrize("reader", ["read_context_rules", "read_kinds"])
def test_a_line_of_a_rules_file_that_is_not_json_is_named_by_file_and_line(tmp_path, reader):
    """The ConText rules and the indicator kinds are read as every other pattern file is: comment
    lines skipped, and a broken line is an error naming its file and line, not a bare decode error."""
    from secondary_crimes.extract import components

    path = tmp_path / "rules.jsonl"
    path.write_text('// a comment\n{"category": "negated", "kind": "push", "offences": []}\n{broken\n',
                    encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules\.jsonl:3: not JSON"):
        getattr(components, reader)(str(path))
    path.write_text('// a comment\n{"category": "negated", "kind": "push", "offences": []}\n', encoding="utf-8")
    assert len(getattr(components, reader)(str(path))) == 1
