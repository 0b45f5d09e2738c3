//! Programme statistics: the fiscal-year engine, the summary tables kept in step with every
//! change (rollup), the annual-report figures (mdd, report), breakdowns, the yearly targets
//! (objectives) and the report's objectives table (report_objectives), and closed years'
//! published figures (closing).

pub mod breakdown;
pub mod closing;
pub mod expenses;
pub mod mdd;
pub mod objectives;
pub mod report;
pub mod report_objectives;
pub mod rollup;
