//! CloudTrail as EventBridge sees it: reading log data ([`reader`]), the envelope CloudTrail
//! puts around each record ([`envelope`]), and replaying records through rules deployed on
//! buses in regions ([`replay`]).

pub mod envelope;
pub mod reader;
pub mod replay;
