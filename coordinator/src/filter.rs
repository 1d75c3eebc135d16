use regex::Regex;

use crate::DomainError;

/// MirrorMaker 2's default `topics`: every topic.
pub const DEFAULT_TOPICS: &[&str] = &[".*"];
/// MirrorMaker 2's default `topics.exclude`.
pub const DEFAULT_TOPICS_EXCLUDE: &[&str] = &[".*[\\-\\.]internal", ".*\\.replica", "__.*"];

/// Topics that are never replicated as data, whatever the filter says: Kafka's own (`__*`), hidden
/// ones (`.*`), and MirrorMaker-style internal topics (`*.internal`, `*-internal`). Heartbeats and
/// checkpoints are replicated by their own feature, not by the data path.
pub fn is_internal_topic(topic: &str) -> bool {
    topic.starts_with("__")
        || topic.starts_with('.')
        || topic.ends_with(".internal")
        || topic.ends_with("-internal")
        || topic == "heartbeats"
        || topic.ends_with(".heartbeats")
        || topic.ends_with(".checkpoints.internal")
}

/// Selects source topics the way MirrorMaker 2 does: the include patterns and the exclude patterns are
/// each joined with `|` and must match the whole name; exclude wins; an empty include list selects
/// nothing.
#[derive(Debug, Clone)]
pub struct TopicFilter {
    include_patterns: Vec<String>,
    exclude_patterns: Vec<String>,
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl TopicFilter {
    pub fn new<I, E>(include: I, exclude: E) -> Result<Self, DomainError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
        E: IntoIterator,
        E::Item: Into<String>,
    {
        let include_patterns: Vec<String> = include.into_iter().map(Into::into).collect();
        let exclude_patterns: Vec<String> = exclude.into_iter().map(Into::into).collect();
        Ok(Self {
            include: whole_name_regex(&include_patterns)?,
            exclude: whole_name_regex(&exclude_patterns)?,
            include_patterns,
            exclude_patterns,
        })
    }

    /// MirrorMaker 2's defaults: everything but MM2's default exclusions.
    pub fn mm2_default() -> Self {
        Self::new(
            DEFAULT_TOPICS.iter().copied(),
            DEFAULT_TOPICS_EXCLUDE.iter().copied(),
        )
        .expect("the default patterns are valid")
    }

    pub fn include_patterns(&self) -> &[String] {
        &self.include_patterns
    }

    pub fn exclude_patterns(&self) -> &[String] {
        &self.exclude_patterns
    }

    /// Whether the filter selects `topic` (internal topics are left out separately, see
    /// [`is_internal_topic`]).
    pub fn matches(&self, topic: &str) -> bool {
        let included = self.include.as_ref().is_some_and(|re| re.is_match(topic));
        let excluded = self.exclude.as_ref().is_some_and(|re| re.is_match(topic));
        included && !excluded
    }
}

/// Each pattern is checked on its own first, so an error names the pattern that is wrong.
fn whole_name_regex(patterns: &[String]) -> Result<Option<Regex>, DomainError> {
    let patterns: Vec<&str> = patterns
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    for pattern in &patterns {
        Regex::new(pattern).map_err(|e| DomainError::InvalidRegex {
            pattern: (*pattern).to_owned(),
            reason: e.to_string(),
        })?;
    }
    if patterns.is_empty() {
        return Ok(None);
    }
    let joined = format!("^(?:{})$", patterns.join("|"));
    Regex::new(&joined)
        .map(Some)
        .map_err(|e| DomainError::InvalidRegex {
            pattern: joined,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_select_user_topics_only() {
        let f = TopicFilter::mm2_default();
        assert!(f.matches("orders"));
        assert!(f.matches("A.orders"));
        assert!(!f.matches("__consumer_offsets"));
        assert!(!f.matches("mm2-offset-syncs.B.internal"));
        assert!(!f.matches("connect-internal"));
        assert!(!f.matches("orders.replica"));
    }

    #[test]
    fn patterns_match_whole_names_and_exclude_wins() {
        let f = TopicFilter::new(["orders.*", "payments"], ["orders-test"]).unwrap();
        assert!(f.matches("orders"));
        assert!(f.matches("orders-eu"));
        assert!(!f.matches("orders-test"));
        assert!(f.matches("payments"));
        assert!(!f.matches("payments-eu"), "must match the whole name");
        assert!(!f.matches("my-orders"), "must match from the start");
    }

    #[test]
    fn empty_include_matches_nothing() {
        let f = TopicFilter::new(Vec::<String>::new(), Vec::<String>::new()).unwrap();
        assert!(!f.matches("orders"));
    }

    #[test]
    fn bad_regex_names_the_pattern() {
        let err = TopicFilter::new(["ok", "bad(["], Vec::<String>::new()).unwrap_err();
        match err {
            DomainError::InvalidRegex { pattern, .. } => assert_eq!(pattern, "bad(["),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn internal_topics() {
        for t in [
            "__consumer_offsets",
            "__transaction_state",
            ".hidden",
            "mm2-offset-syncs.B.internal",
            "x-internal",
            "heartbeats",
            "A.heartbeats",
            "A.checkpoints.internal",
        ] {
            assert!(is_internal_topic(t), "{t}");
        }
        assert!(!is_internal_topic("orders"));
        assert!(!is_internal_topic("A.orders"));
    }
}
