//! `Ranking`: how the two legs' candidates become one list, and the query-side refinements.
//!
//! The defaults come from the retrieval evaluation (`bench/retrieval`);
//! `Ranking::from_str` parses `key=value` pairs so that an operator (or the evaluation) can try
//! others without a rebuild (`--search-ranking`).

use std::fmt;
use std::str::FromStr;

/// How the ranked candidates of the full-text and vector legs are fused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: the sum over legs of `weight / (k + rank)`. Needs no score
    /// calibration between BM25 (unbounded) and cosine (bounded).
    Rrf {
        k: f64,
        text_weight: f64,
        vector_weight: f64,
    },
    /// A convex combination of the legs' scores, each min-max normalised over its own
    /// candidates (absent from a leg: 0): `alpha * vector + (1 - alpha) * text`. Keeps how much
    /// better the first candidate is than the tenth, which ranks throw away.
    Convex { alpha: f64 },
}

/// The ranking settings of a `SearchIndex` (`bench/retrieval`'s README has each setting's
/// measured effect).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranking {
    pub fusion: Fusion,
    /// How many candidates each leg contributes to the fusion (at least the query's limit).
    pub candidates: usize,
    /// Drop function words ("what", "did", "the") from full-text queries, unless the query has
    /// nothing else: a question's function words match most turns of a conversation and
    /// push the turns that share its content words down.
    pub query_stopwords: bool,
    /// Pseudo-relevance feedback on the vector leg (Rocchio): the query vector moves towards
    /// the mean of the first `feedback_docs` fused hits by this weight, and the vector leg is
    /// asked again. 0: off.
    pub vector_feedback: f32,
    pub feedback_docs: usize,
}

/// The constant of the original RRF paper.
const RRF_K: f64 = 60.0;

/// The vector leg's share when `fusion=convex` gives none. Measured on `bench/retrieval` (418
/// questions, built-in model): recall@10 0.329 and MRR 0.238 against RRF's 0.280 and 0.171 at
/// 50 candidates; 0.5 gave 0.326 / 0.216, 0.8 0.327 / 0.240, 0.3 0.231 / 0.157.
const DEFAULT_ALPHA: f64 = 0.7;

/// Candidates per leg by default. RRF with 20 measured recall@10 0.327 and session hit@10 0.684
/// against 0.280 / 0.641 with 50: fewer low-ranked candidates, less noise summed into the
/// fusion.
const DEFAULT_CANDIDATES: usize = 20;

impl Default for Ranking {
    /// RRF over 20 candidates a leg. The convex fusion ranks better still with a good model, but
    /// its min-max normalisation hands the vector leg's first candidate 0.7 however weak the
    /// model's similarities are, so with a poor embedder an exact-words match loses to a
    /// meaningless nearest vector; rank fusion degrades more gracefully, so it stays the default.
    fn default() -> Ranking {
        Ranking {
            fusion: Fusion::Rrf {
                k: RRF_K,
                text_weight: 1.0,
                vector_weight: 1.0,
            },
            candidates: DEFAULT_CANDIDATES,
            query_stopwords: false,
            vector_feedback: 0.0,
            feedback_docs: 3,
        }
    }
}

/// A `--search-ranking` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid search ranking `{0}`: expected comma-separated key=value pairs of fusion=rrf|convex, rrf_k, text_weight, vector_weight, alpha, candidates, stopwords=true|false, feedback, feedback_docs"
)]
pub struct RankingParseError(String);

impl FromStr for Ranking {
    type Err = RankingParseError;

    /// `fusion=rrf,rrf_k=60,text_weight=1,vector_weight=1` or `fusion=convex,alpha=0.5`, plus
    /// `candidates=50`, `stopwords=true`, `feedback=0.5`, `feedback_docs=3`; keys not given
    /// keep their defaults.
    fn from_str(s: &str) -> Result<Ranking, RankingParseError> {
        let bad = || RankingParseError(s.to_owned());
        let mut ranking = Ranking::default();
        // RRF's and the convex combination's parameters, from the default's where it has them.
        let (mut k, mut tw, mut vw, mut alpha) = (RRF_K, 1.0, 1.0, DEFAULT_ALPHA);
        let mut convex = matches!(ranking.fusion, Fusion::Convex { .. });
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(bad)?;
            let number = || value.trim().parse::<f64>().ok().filter(|v| v.is_finite());
            match key.trim() {
                "fusion" => match value.trim() {
                    "rrf" => convex = false,
                    "convex" => convex = true,
                    _ => return Err(bad()),
                },
                "rrf_k" => k = number().filter(|v| *v >= 0.0).ok_or_else(bad)?,
                "text_weight" => tw = number().filter(|v| *v >= 0.0).ok_or_else(bad)?,
                "vector_weight" => vw = number().filter(|v| *v >= 0.0).ok_or_else(bad)?,
                "alpha" => {
                    alpha = number()
                        .filter(|v| (0.0..=1.0).contains(v))
                        .ok_or_else(bad)?
                }
                "candidates" => {
                    ranking.candidates = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(bad)?
                }
                "stopwords" => ranking.query_stopwords = value.trim().parse().map_err(|_| bad())?,
                "feedback" => {
                    ranking.vector_feedback = number().filter(|v| *v >= 0.0).ok_or_else(bad)? as f32
                }
                "feedback_docs" => {
                    ranking.feedback_docs = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(bad)?
                }
                _ => return Err(bad()),
            }
        }
        ranking.fusion = if convex {
            Fusion::Convex { alpha }
        } else {
            Fusion::Rrf {
                k,
                text_weight: tw,
                vector_weight: vw,
            }
        };
        Ok(ranking)
    }
}

impl fmt::Display for Ranking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fusion {
            Fusion::Rrf {
                k,
                text_weight,
                vector_weight,
            } => write!(
                f,
                "fusion=rrf,rrf_k={k},text_weight={text_weight},vector_weight={vector_weight}"
            )?,
            Fusion::Convex { alpha } => write!(f, "fusion=convex,alpha={alpha}")?,
        }
        write!(
            f,
            ",candidates={},stopwords={},feedback={},feedback_docs={}",
            self.candidates, self.query_stopwords, self.vector_feedback, self.feedback_docs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_round_trips_through_its_text() {
        let text = Ranking::default().to_string();
        assert_eq!(text.parse::<Ranking>(), Ok(Ranking::default()));
    }

    #[test]
    fn keys_not_given_keep_their_defaults() {
        let r: Ranking = "fusion=convex,alpha=0.7, stopwords=true".parse().unwrap();
        assert_eq!(r.fusion, Fusion::Convex { alpha: 0.7 });
        assert!(r.query_stopwords);
        assert_eq!(r.candidates, Ranking::default().candidates);
        let r: Ranking = "fusion=rrf,text_weight=0.5".parse().unwrap();
        assert_eq!(
            r.fusion,
            Fusion::Rrf {
                k: 60.0,
                text_weight: 0.5,
                vector_weight: 1.0
            }
        );
        let r: Ranking = "candidates=30".parse().unwrap();
        assert_eq!(r.fusion, Ranking::default().fusion);
        assert_eq!(r.candidates, 30);
        let r: Ranking = "fusion=convex".parse().unwrap();
        assert_eq!(r.fusion, Fusion::Convex { alpha: 0.7 });
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "fusion=max",
            "alpha=2",
            "candidates=0",
            "rrf_k=-1",
            "stopwords=maybe",
            "colour=blue",
            "text_weight",
            "feedback=NaN",
        ] {
            assert!(bad.parse::<Ranking>().is_err(), "{bad} was accepted");
        }
    }
}
