//! "Did you mean ...?" for a misspelt key: the known key at most two edits away (Damerau-Levenshtein:
//! a letter added, dropped, changed, or two neighbours swapped), so that a typo is refused with the
//! key it was meant to be instead of being read as some other, unknown key.

/// The edits allowed for `word`: two, but at most a third of its length (at least one), so that
/// short words do not match everything of their size.
fn max_edits(word: &str) -> usize {
    (word.chars().count() / 3).clamp(1, 2)
}

/// The entry of `known` closest to `word` within [`max_edits`] (the first of equally close ones),
/// or `None` when none is that close. `word` itself is never suggested.
pub(crate) fn closest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let max = max_edits(word);
    known
        .into_iter()
        .filter(|candidate| *candidate != word)
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= max)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `key` with a misspelt leading scope (`consumr.fetch.min.bytes`) written as the closest of
/// `prefixes` (each ending in a dot: `consumer.`), when the rest is not empty.
pub(crate) fn prefix_typo(key: &str, prefixes: &[&str]) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for prefix in prefixes {
        let segments = prefix.matches('.').count();
        let Some(end) = key.match_indices('.').nth(segments - 1).map(|(i, _)| i + 1) else {
            continue;
        };
        let (head, rest) = key.split_at(end);
        if head == *prefix || rest.is_empty() {
            continue;
        }
        let distance = strsim::damerau_levenshtein(head, prefix);
        if distance <= max_edits(prefix) && best.as_ref().is_none_or(|(d, _)| distance < *d) {
            best = Some((distance, format!("{prefix}{rest}")));
        }
    }
    best.map(|(_, key)| key)
}

/// ": did you mean `X`?" for the suggestion, or nothing.
pub(crate) fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(": did you mean `{s}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["enabled", "topics", "topics.exclude", "replication.factor"];

    #[test]
    fn one_or_two_edits_away() {
        let known = KNOWN.iter().copied();
        assert_eq!(
            closest("enabeld", known.clone()),
            Some("enabled"),
            "a swap is one edit"
        );
        assert_eq!(
            closest("replcation.factor", known.clone()),
            Some("replication.factor")
        );
        assert_eq!(
            closest("replicaton.fator", known.clone()),
            Some("replication.factor")
        );
        assert_eq!(closest("topcs", known.clone()), Some("topics"));
        assert_eq!(
            closest("topics.exclud", known.clone()),
            Some("topics.exclude")
        );
        assert_eq!(
            closest("replicaton.fatr", known.clone()),
            None,
            "three edits"
        );
        assert_eq!(closest("whatever", known.clone()), None);
        assert_eq!(closest("topics", known), None, "a known key is not a typo");
    }

    #[test]
    fn short_words_allow_one_edit() {
        assert_eq!(closest("ack", ["acks"]), Some("acks"));
        assert_eq!(closest("ac", ["acks"]), None);
        assert_eq!(closest("name", ["tasks.max", "nope"]), None);
    }

    #[test]
    fn the_closest_wins() {
        assert_eq!(
            closest("groupss", ["groups.exclude", "groups"]),
            Some("groups")
        );
    }

    #[test]
    fn misspelt_scopes() {
        let scopes = ["consumer.", "source.consumer.", "producer.", "admin."];
        assert_eq!(
            prefix_typo("consumr.fetch.min.bytes", &scopes).as_deref(),
            Some("consumer.fetch.min.bytes")
        );
        assert_eq!(
            prefix_typo("source.consumr.isolation.level", &scopes).as_deref(),
            Some("source.consumer.isolation.level")
        );
        assert_eq!(
            prefix_typo("admni.retries", &scopes).as_deref(),
            Some("admin.retries")
        );
        assert_eq!(prefix_typo("consumer.x", &scopes), None, "already right");
        assert_eq!(prefix_typo("whatever.this.is", &scopes), None);
        assert_eq!(
            prefix_typo("consumr.", &scopes),
            None,
            "nothing after the scope"
        );
    }
}
