//! reprocess
