//! CloudTrail as EventBridge sees it: reading log data ([`reader`]), the envelope CloudTrail
//! puts around each record ([`envelope`]), and replaying records through rules deployed on
//! buses in regions ([`replay`]), with the metric filters of CloudWatch Logs alongside;
//! [`time`] reads log event times.

pub mod envelope;
pub mod reader;
pub mod replay;
pub mod time;
