//! Enrichment beyond the spec's rules: the optional language-model step ([`llm`], I/O), and,
//! re-exported from [`crate::normalize`] where they live because they are pure, keyword tags
//! from a taxonomy ([`taxonomy`], [`Enrichment`]).

pub mod llm;

pub use crate::normalize::taxonomy;
pub use crate::normalize::{Enrichment, DEFAULT_MAX_TAGS};
pub use llm::{ModelClient, ModelSettings};
pub use taxonomy::{Rejection, TagScore, Tagging, Taxonomy, TaxonomyError};
