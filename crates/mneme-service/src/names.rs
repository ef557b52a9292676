//! Random agent names for agents created without one.

use rand::seq::IndexedRandom;

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "curious", "eager", "gentle", "honest", "keen", "lively",
    "lucid", "nimble", "patient", "quiet", "rapid", "steady", "swift", "tidy", "vivid", "witty",
];
const NOUNS: &[&str] = &[
    "badger", "crane", "dolphin", "falcon", "fox", "heron", "ibis", "lynx", "marten", "otter",
    "owl", "panda", "puffin", "raven", "robin", "seal", "sparrow", "tern", "wolf", "wren",
];

/// `Adjective-noun-NNN`, unique enough to tell agents apart in a list.
pub(crate) fn random_agent_name() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("otter");
    let n: u16 = rand::random_range(100..1000);
    format!("{adjective}-{noun}-{n}")
}

/// `AdjectiveNoun`, as Letta names an organization created without a name.
pub(crate) fn random_org_name() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("otter");
    format!("{}{}", capitalized(adjective), capitalized(noun))
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
