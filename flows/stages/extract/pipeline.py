"""`extract`: one batch of articles → rows for the extraction tables.

Order of work: NER for the batch (one `nlp.pipe`), entity resolution in two passes over the batch,
then per article events and quotes, then cross-article (and cross-run) event coreference and stories.

Exact duplicates (`duplicate_of` set) get no NLP. They join the story of their original, and they count
as reports of the original's events (so a syndicated copy in another outlet raises article_count and
source_count): their event_mentions are the original's, under their own article_id. They get no
entity_mentions or quotes of their own.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

from flows.config import ExtractConfig
from flows.records import Article, Reject, content_key
from flows.stages.extract.coref import (
    CanonicalEvent,
    Report,
    event_date,
    event_location,
    event_status,
    merge_events,
)
from flows.stages.extract.entities import ArticleAnalysis, EntityResolver
from flows.stages.extract.events import (
    ArticleEvent,
    KnownNames,
    extract_article_events,
    find_agreement_names,
    person_affiliations,
    trigger_sentences,
)
from flows.stages.extract.gazetteer import EntityRef, alias_key, load_gazetteer
from flows.stages.extract import ner_process
from flows.stages.extract.ner_process import NerFailure
from flows.stages.extract.nlp import NER_MAX_CHARS, NerResult, run_ner
from flows.stages.extract.prior import ExtractPrior, as_utc
from flows.stages.extract.quotes import extract_quotes
from flows.stages.extract.stories import PriorStory, StoryFeatures, cluster_stories, content_words
from flows.stages.extract.tables import ExtractResult, TableBuilder, to_table

MAX_ALIASES = 50


def _seen_at(article: Article) -> datetime:
    return as_utc(article.published_at or article.fetched_at) or datetime.now(UTC)


def _reject(article: Article, error: str) -> Reject:
    where = article.url or article.article_id
    return Reject(article.source, where, "extract", f"article {article.article_id} ({where}): {error}")


def extract(
    articles: list[Article], cfg: ExtractConfig, prior: ExtractPrior | None = None, nlp=None
) -> ExtractResult:
    if not articles:  # an unchanged re-run: nothing to load, nothing to touch
        empty = ExtractResult.empty()
        empty.counts = dict.fromkeys(("articles_in", "articles_extracted", "duplicates_linked", "articles_rejected",
                                      "entity_mentions", "events_touched", "quotes", "stories_touched"), 0)
        return empty
    prior = prior or ExtractPrior.empty()
    gaz = load_gazetteer()
    rejects: list[Reject] = []
    originals = [a for a in articles if not a.duplicate_of]
    duplicates = [a for a in articles if a.duplicate_of]
    max_chars = nlp.max_length if nlp is not None else NER_MAX_CHARS
    runnable = []
    for article in originals:
        if not article.text or not article.text.strip():
            rejects.append(_reject(article, "empty text; the clean stage should have rejected it"))
        elif len(article.text) >= max_chars:
            rejects.append(
                _reject(
                    article,
                    f"text of {len(article.text)} characters exceeds spaCy's max_length "
                    f"{max_chars}; split the article or raise nlp.max_length",
                )
            )
        else:
            runnable.append(article)
    # NER starts first (in its own process where it can); the text-only work below overlaps with it.
    ner_results = _ner_results(nlp, runnable, cfg)
    # Agreement names of the run (and the warehouse) are LAW entities, whatever NER labels them.
    known = KnownNames()
    for row in prior.events.values():
        if row.get("event_type") == "AGREE":
            known.add(row.get("name"), row.get("short_name"))
    words: dict[str, Counter] = {}
    for article in runnable:
        for _, _, name, short in find_agreement_names(article.text, 0, len(article.text), gaz):
            known.add(name, short)
        words[article.article_id] = content_words(f"{article.title or ''}\n{article.text}")
    known.compile()

    resolver = EntityResolver(gaz, prior.entity_refs())
    collected = []
    # Which sentences can hold an event: found here, while NER works on later articles, so the
    # event search after NER looks at those sentences only.
    hot_sentences: dict[str, frozenset[int]] = {}
    for article, ner in zip(runnable, ner_results, strict=True):
        if isinstance(ner, NerFailure):
            rejects.append(_reject(article, f"spaCy failed: {ner.error}"))
            continue
        try:
            hot = trigger_sentences(article.text, ner.sentences, gaz, known)
            collected.append((article, ner, resolver.collect(article, ner)))  # last: it adds to the resolver
            hot_sentences[article.article_id] = hot
        except Exception as exc:  # one bad article must not stop the batch
            rejects.append(_reject(article, f"entity collection failed: {type(exc).__name__}: {exc}"))
    resolver.agreement_names = {alias_key(n) for n in known.names.values()} | {
        alias_key(s) for s in known.shorts
    }
    analyses: list[ArticleAnalysis] = []
    for index in range(len(collected)):
        article, ner, boiler = collected[index]
        collected[index] = None  # the analysis keeps what it needs; a big run frees the rest as it goes
        try:
            analyses.append(resolver.resolve(index, article, ner, boiler))
        except Exception as exc:
            rejects.append(_reject(article, f"entity resolution failed: {type(exc).__name__}: {exc}"))

    run_affiliations = _run_affiliations(analyses)

    per_article_events: dict[str, list[ArticleEvent]] = {}
    per_article_quotes = {}
    good: list[ArticleAnalysis] = []
    for analysis in analyses:
        article = analysis.article
        try:
            reference = _seen_at(article).date()
            per_article_events[article.article_id] = extract_article_events(
                analysis, gaz, reference, known, run_affiliations, hot_sentences.get(article.article_id)
            )
            per_article_quotes[article.article_id] = extract_quotes(analysis)
            good.append(analysis)
        except Exception as exc:
            rejects.append(_reject(article, f"event/quote extraction failed: {type(exc).__name__}: {exc}"))

    # -- events across articles and runs ---------------------------------------------------------------
    reports = [
        Report(a.article.article_id, a.article.source, _seen_at(a.article), ev)
        for a in good
        for ev in per_article_events[a.article.article_id]
    ]
    prior_canonical = _prior_canonical_events(prior)
    touched = merge_events(reports, prior_canonical)
    event_of_report = {id(r.event): c for c in touched for r in c.reports}

    # duplicates count as reports of their original's events
    by_id = {a.article.article_id: a for a in good}
    duplicate_mentions: list[dict] = []
    duplicate_events: dict[str, set[str]] = defaultdict(set)
    touched_by_id = {c.event_id: c for c in touched}
    for dup in duplicates:
        original = dup.duplicate_of
        rows = []
        if original in by_id:
            for ev in per_article_events[original]:
                canonical = event_of_report[id(ev)]
                rows.extend(_mention_rows(canonical.event_id, dup.article_id, by_id[original], ev))
        else:
            rows = [
                dict(row, article_id=dup.article_id)
                for row in prior.event_mentions_by_article.get(original, [])
            ]
        for row in rows:
            duplicate_events[row["event_id"]].add(dup.article_id)
            if row["event_id"] not in touched_by_id:
                canonical = next((c for c in prior_canonical if c.event_id == row["event_id"]), None)
                if canonical is not None:
                    touched_by_id[canonical.event_id] = canonical
        duplicate_mentions.extend(rows)
    touched = list(touched_by_id.values())

    # -- stories -------------------------------------------------------------------------------------------
    features = []
    for analysis in good:
        article = analysis.article
        story_events = {
            event_of_report[id(ev)].event_id
            for ev in per_article_events[article.article_id]
            if ev.event_type == "AGREE"
            and (ev.names or ev.short_names or len(ev.parties) >= 2)
            and ev.is_main
        }
        features.append(
            StoryFeatures(
                article.article_id,
                article.title or "",
                _seen_at(article),
                Counter(m.entity.entity_id for m in analysis.mentions),
                words[article.article_id],
                story_events,
            )
        )
    prior_stories = _prior_stories(prior)
    assignment = cluster_stories(features, prior_stories, cfg.story_window_days, cfg.story_threshold)
    for dup in duplicates:
        story = assignment.get(dup.duplicate_of) or prior.article_stories.get(dup.duplicate_of)
        if story is None:
            story = content_key("story", dup.duplicate_of)
        assignment[dup.article_id] = story

    result = _build_tables(
        articles,
        good,
        per_article_events,
        per_article_quotes,
        event_of_report,
        touched,
        duplicate_mentions,
        duplicate_events,
        assignment,
        prior,
    )
    result.rejects = rejects
    result.counts = {
        "articles_in": len(articles),
        "articles_extracted": len(good),
        "duplicates_linked": len(duplicates),
        "articles_rejected": len({r.input for r in rejects}),
        "entity_mentions": result.entity_mentions.num_rows,
        "events_touched": result.events.num_rows,
        "quotes": result.quotes.num_rows,
        "stories_touched": result.stories.num_rows,
    }
    return result


def _ner_results(nlp, articles: list[Article], cfg: ExtractConfig) -> Iterator[NerResult | NerFailure]:
    """NER for the batch, one result per article in order: in the NER child process when the
    config allows and this process may start one, else here (always here for a given `nlp`)."""
    texts = [a.text for a in articles]
    if not texts:
        return iter(())
    if nlp is not None:
        return _isolated(nlp, texts, cfg)
    if cfg.ner_in_child_process and ner_process.can_use_child_process():
        return ner_process.in_child_process(cfg.spacy_model, texts, cfg.batch_size, cfg.n_process)
    return ner_process.in_this_process(cfg.spacy_model, texts, cfg.batch_size, cfg.n_process)


def _isolated(nlp, texts: list[str], cfg: ExtractConfig) -> Iterator[NerResult | NerFailure]:
    """One `nlp.pipe` over the batch; if it fails, text by text to find the bad one."""
    try:
        results = list(run_ner(nlp, texts, cfg.batch_size, cfg.n_process))
    except Exception:  # isolate the failing article; the others still go through
        results = []
        for text in texts:
            try:
                results.append(next(run_ner(nlp, [text], 1, 1)))
            except Exception as exc:
                results.append(NerFailure(f"{type(exc).__name__}: {exc}"))
    return iter(results)


def _run_affiliations(analyses: list[ArticleAnalysis]) -> dict[str, EntityRef]:
    votes: dict[str, Counter] = defaultdict(Counter)
    refs: dict[str, EntityRef] = {}
    for analysis in analyses:
        for person_id, state in person_affiliations(analysis).items():
            votes[person_id][state.entity_id] += 1
            refs[state.entity_id] = state
    return {person: refs[counts.most_common(1)[0][0]] for person, counts in votes.items()}


def _prior_canonical_events(prior: ExtractPrior) -> list[CanonicalEvent]:
    out = []
    for event_id, row in prior.events.items():
        canonical = CanonicalEvent(event_id, row["event_type"], prior_row=row)
        if row.get("name"):
            canonical.names[row["name"]] += 1
        if row.get("short_name"):
            canonical.short_names[row["short_name"]] += 1
        canonical.prior_arguments = list(prior.event_arguments.get(event_id, []))
        for role, entity_id in canonical.prior_arguments:
            ref = prior.entity_ref(entity_id)
            if ref is None:
                continue
            # earlier runs' arguments count as supported by every earlier report
            support = max(len(prior.event_mentions.get(event_id, [])), 1)
            if role in ("signatory", "participant", "actor"):
                canonical.parties.setdefault(entity_id, ref)
                canonical.party_support[entity_id] += support
            elif role == "signer":
                canonical.signers.setdefault(entity_id, ref)
                canonical.signer_support[entity_id] += support
        if row["event_type"] == "POLICY" and row.get("name") and canonical.parties:
            canonical.key = None  # policy keys are not stored; the name match below stands in
        for mention in prior.event_mentions.get(event_id, []):
            article = prior.articles.get(mention["article_id"])
            canonical.prior_reports[mention["article_id"]] = (
                article.seen_at if article else None,
                article.source if article else None,
                mention.get("status_in_article"),
            )
        out.append(canonical)
    return out


def _prior_stories(prior: ExtractPrior) -> list[PriorStory]:
    members: dict[str, set[str]] = defaultdict(set)
    for article_id, story_id in prior.article_stories.items():
        members[story_id].add(article_id)
    entities: dict[str, set[str]] = defaultdict(set)
    events: dict[str, set[str]] = defaultdict(set)
    for event_id, row in prior.events.items():
        story_id = row.get("story_id")
        if story_id:
            events[story_id].add(event_id)
            entities[story_id].update(e for _, e in prior.event_arguments.get(event_id, []))
    out = []
    for story_id, row in prior.stories.items():
        ids = members.get(story_id, set())
        titles = [prior.articles[a].title or "" for a in ids if a in prior.articles]
        out.append(
            PriorStory(
                story_id,
                row.get("title"),
                as_utc(row.get("first_seen")),
                as_utc(row.get("last_seen")),
                ids,
                titles,
                entities.get(story_id, set()),
                events.get(story_id, set()),
            )
        )
    return out


def _mention_rows(event_id: str, article_id: str, analysis: ArticleAnalysis, ev: ArticleEvent) -> list[dict]:
    rows, seen = [], set()
    status = ev.status
    for hit in ev.hits:
        s_start, s_end = analysis.sentences[hit.sentence_index]
        if (s_start, s_end) in seen:
            continue
        seen.add((s_start, s_end))
        rows.append(
            {
                "event_id": event_id,
                "article_id": article_id,
                "sentence": analysis.text[s_start:s_end],
                "start_char": s_start,
                "end_char": s_end,
                "status_in_article": status,
                "confidence": hit.confidence,
            }
        )
    return rows


def _build_tables(
    articles,
    good,
    per_article_events,
    per_article_quotes,
    event_of_report,
    touched,
    duplicate_mentions,
    duplicate_events,
    assignment,
    prior: ExtractPrior,
) -> ExtractResult:
    entity_refs: dict[str, EntityRef] = {}
    aliases: dict[str, set[str]] = defaultdict(set)

    def touch(ref: EntityRef, surface: str | None = None) -> str:
        entity_refs.setdefault(ref.entity_id, ref)
        if surface and surface != ref.name:
            aliases[ref.entity_id].add(surface)
        return ref.entity_id

    mention_rows = TableBuilder("entity_mentions")
    quote_rows = TableBuilder("quotes")
    event_mention_rows = TableBuilder("event_mentions")
    for analysis in good:
        article_id = analysis.article.article_id
        for m in analysis.mentions:
            mention_rows.append(
                {
                    "article_id": article_id,
                    "entity_id": touch(m.entity, m.text),
                    "mention": m.text,
                    "label": m.label,
                    "sentence_index": m.sentence_index,
                    "start_char": m.start,
                    "end_char": m.end,
                }
            )
        for quote in per_article_quotes[article_id]:
            quote_rows.append(
                {
                    "article_id": article_id,
                    "speaker_entity_id": touch(quote.speaker.entity) if quote.speaker else None,
                    "text": quote.text,
                    "start_char": quote.start,
                    "end_char": quote.end,
                }
            )
        for ev in per_article_events[article_id]:
            canonical = event_of_report[id(ev)]
            event_mention_rows.extend(_mention_rows(canonical.event_id, article_id, analysis, ev))
    event_mention_rows.extend(duplicate_mentions)

    # counts over every article that reports the event, this run and before
    run_sources = {a.article_id: a.source for a in articles}
    run_seen = {a.article_id: _seen_at(a) for a in articles}
    replaced = set(run_sources)  # this run's rows replace earlier rows of the same article
    event_rows, argument_rows = [], []
    for canonical in touched:
        article_ids = {r.article_id for r in canonical.reports} | duplicate_events.get(
            canonical.event_id, set()
        )
        sources = {run_sources[a] for a in article_ids}
        times = [run_seen[a] for a in article_ids]
        for article_id, (seen_at, source, _) in canonical.prior_reports.items():
            if article_id in replaced:
                continue
            article_ids.add(article_id)
            if source:
                sources.add(source)
            if seen_at:
                times.append(seen_at)
        prior_row = canonical.prior_row or {}
        for key in ("first_seen", "last_seen"):
            if prior_row.get(key):
                times.append(as_utc(prior_row[key]))
        location_name, location_ref = event_location(canonical)
        parties = canonical.supported_parties()
        signers = canonical.supported_signers()
        is_agreement = canonical.event_type == "AGREE"
        status = event_status(canonical)
        if is_agreement and status == "signed" and len(parties) < 2:
            # The warehouse's rule: a signed agreement names two parties. When the text names fewer,
            # the status is left open rather than the party invented.
            status = None
        stories = Counter(assignment[a] for a in article_ids if a in assignment)
        stories.update(
            prior.article_stories[a]
            for a in article_ids
            if a in prior.article_stories and a not in assignment
        )
        event_rows.append(
            {
                "event_id": canonical.event_id,
                "event_type": canonical.event_type,
                "name": _most_common(canonical.names) or prior_row.get("name"),
                "short_name": _most_common(canonical.short_names) or prior_row.get("short_name"),
                "status": status,
                "event_date": event_date(canonical),
                "location": location_name,
                "signatories": [r.name for r in parties] if is_agreement else [],
                "signatory_codes": [r.country_code for r in parties if r.country_code and r.is_state]
                if is_agreement
                else [],
                "signers": [r.name for r in signers] if is_agreement else [],
                "story_id": stories.most_common(1)[0][0] if stories else prior_row.get("story_id"),
                "article_count": len(article_ids),
                "source_count": len(sources),
                "first_seen": min(times) if times else None,
                "last_seen": max(times) if times else None,
            }
        )
        party_role = {
            "AGREE": "signatory",
            "MEET": "participant",
            "EXERCISE": "participant",
            "POLICY": "actor",
        }
        arguments = {(party_role[canonical.event_type], touch(r)) for r in parties}
        arguments |= {("signer", touch(r)) for r in signers}
        if location_ref is not None:
            arguments.add(("location", touch(location_ref)))
        for role, entity_id in canonical.prior_arguments:
            if role == "location" and location_ref is None and entity_id in prior.entities:
                arguments.add((role, entity_id))  # parties and signers were re-decided above
        argument_rows.extend(
            {"event_id": canonical.event_id, "role": r, "entity_id": e} for r, e in sorted(arguments)
        )

    # entities touched: the full, updated row (aliases from every run)
    entity_rows = []
    for entity_id, ref in entity_refs.items():
        prior_row = prior.entities.get(entity_id) or {}
        merged = set(prior_row.get("aliases") or []) | aliases.get(entity_id, set())
        merged.discard(ref.name)
        entity_rows.append(
            {
                "entity_id": entity_id,
                "name": ref.name,
                "type": ref.type,
                "country_code": ref.country_code if ref.is_state else prior_row.get("country_code"),
                "wikidata_id": ref.wikidata_id or prior_row.get("wikidata_id"),
                "aliases": sorted(merged)[:MAX_ALIASES],
            }
        )

    # stories touched
    members: dict[str, set[str]] = defaultdict(set)
    for article_id, story_id in prior.article_stories.items():
        if article_id not in assignment:
            members[story_id].add(article_id)
    for article_id, story_id in assignment.items():
        members[story_id].add(article_id)
    titles = {a.article_id: a.title for a in articles}
    story_rows = []
    for story_id in sorted(set(assignment.values())):
        ids = members[story_id]
        times = [run_seen[a] for a in ids if a in run_seen]
        times += [
            prior.articles[a].seen_at
            for a in ids
            if a in prior.articles and a not in run_seen and prior.articles[a].seen_at
        ]
        prior_row = prior.stories.get(story_id) or {}
        for key in ("first_seen", "last_seen"):
            if prior_row.get(key):
                times.append(as_utc(prior_row[key]))
        first_article = min((a for a in ids if a in run_seen), key=lambda a: (run_seen[a], a), default=None)
        story_rows.append(
            {
                "story_id": story_id,
                "title": prior_row.get("title") or (titles.get(first_article) if first_article else None),
                "first_seen": min(times) if times else None,
                "last_seen": max(times) if times else None,
                "article_count": len(ids),
            }
        )
    article_story_rows = [{"article_id": a, "story_id": s} for a, s in sorted(assignment.items())]
    return ExtractResult(
        entities=to_table("entities", entity_rows),
        entity_mentions=mention_rows.table(),
        events=to_table("events", event_rows),
        event_arguments=to_table("event_arguments", argument_rows),
        event_mentions=event_mention_rows.table(),
        quotes=quote_rows.table(),
        stories=to_table("stories", story_rows),
        article_stories=to_table("article_stories", article_story_rows),
    )


def _most_common(counter: Counter) -> str | None:
    if not counter:
        return None
    # the most frequent form; a capitalised form beats a lower-case one of the same name
    return max(counter.items(), key=lambda kv: (kv[1], sum(ch.isupper() for ch in kv[0]), kv[0]))[0]
