//! Seeded workload generator shared by the benchmarks: CloudTrail-like EventBridge events,
//! citylots-like GeoJSON events, and rule / filter-pattern sets.
//!
//! Everything is a pure function of a seed, so every run (and every machine) sees the same bytes.
//!
//! Distribution tables are derived from the real samples in `tests/data/cloudtrail/` (3,229
//! records: invictus-ir/aws_dataset @ 4667aa9 (MIT, © 2023 Invictus Incident Response),
//! DataDog/stratus-red-team detonation logs @ 7c9a7a5 (Apache-2.0), panther-labs/panther-analysis
//! test records @ daa10c8 (Apache-2.0), AWS documentation examples). Only counts were taken from
//! them (top eventSource / eventName / userIdentity.type / readOnly / errorCode / awsRegion and
//! the record-size quantiles); no record is reproduced.
//!
//! The citylots rule sets in `benches/data/` are aws/event-ruler's CL2 benchmark rules
//! (Apache-2.0, see `benches/data/LICENSE` and `benches/data/NOTICE`).

#![allow(dead_code)] // each bench binary uses a part of this module

use std::fmt::Write as _;

/// SplitMix64: small, seedable, good enough for workloads.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Picks from a weighted table.
    pub fn weighted<'t, T>(&mut self, table: &'t [(T, u32)]) -> &'t T {
        let total: u32 = table.iter().map(|(_, w)| w).sum();
        let mut r = self.below(total as usize) as u32;
        for (item, w) in table {
            if r < *w {
                return item;
            }
            r -= w;
        }
        &table[table.len() - 1].0
    }

    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    pub fn hex(&mut self, out: &mut String, digits: usize) {
        for _ in 0..digits {
            out.push(char::from(b"0123456789abcdef"[self.below(16)]));
        }
    }

    pub fn uuid(&mut self) -> String {
        let mut s = String::with_capacity(36);
        for (i, n) in [8, 4, 4, 4, 12].into_iter().enumerate() {
            if i > 0 {
                s.push('-');
            }
            self.hex(&mut s, n);
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// CloudTrail distribution tables (counts from tests/data/cloudtrail, see the module comment).

/// Service (eventSource prefix), record count in the samples, top event names with counts.
type Service = (&'static str, u32, &'static [(&'static str, u32)]);

pub const SERVICES: &[Service] = &[
    (
        "ec2",
        980,
        &[
            ("DescribeRouteTables", 163),
            ("GetPasswordData", 59),
            ("DescribeNatGateways", 54),
            ("DescribeInstances", 53),
            ("DescribeVpcAttribute", 48),
            ("DescribeVpcs", 43),
            ("DescribeAccountAttributes", 40),
            ("DescribeSubnets", 40),
            ("AuthorizeSecurityGroupIngress", 6),
            ("CreateVpc", 3),
            ("RunInstances", 5),
        ],
    ),
    (
        "ssm",
        626,
        &[
            ("DescribeInstanceInformation", 139),
            ("DescribeParameters", 127),
            ("GetParameter", 82),
            ("ListTagsForResource", 82),
            ("DeleteParameter", 78),
            ("PutParameter", 67),
            ("GetParameters", 10),
            ("GetCommandInvocation", 10),
        ],
    ),
    (
        "iam",
        411,
        &[
            ("GetUser", 130),
            ("ListAttachedRolePolicies", 39),
            ("ListRolePolicies", 33),
            ("GetRole", 31),
            ("CreateRole", 14),
            ("ListInstanceProfilesForRole", 13),
            ("DeleteRole", 13),
            ("GetRolePolicy", 11),
            ("PutUserPolicy", 3),
            ("CreateAccessKey", 3),
        ],
    ),
    (
        "s3",
        274,
        &[
            ("GetBucketAcl", 42),
            ("GetBucketLogging", 18),
            ("ListAccessPoints", 16),
            ("GetBucketPublicAccessBlock", 16),
            ("GetBucketPolicyStatus", 16),
            ("GetBucketTagging", 15),
            ("GetBucketPolicy", 14),
            ("GetBucketLifecycle", 10),
            ("PutBucketPolicy", 4),
            ("PutObject", 6),
            ("GetObject", 8),
        ],
    ),
    (
        "secretsmanager",
        259,
        &[
            ("GetSecretValue", 80),
            ("GetResourcePolicy", 39),
            ("DescribeSecret", 36),
            ("StartSecretVersionDelete", 20),
            ("EndSecretVersionDelete", 20),
            ("CreateSecret", 20),
            ("PutSecretValue", 20),
            ("DeleteSecret", 17),
        ],
    ),
    (
        "kms",
        241,
        &[("Decrypt", 178), ("Encrypt", 42), ("GenerateDataKey", 20), ("RotateKey", 1), ("ScheduleKeyDeletion", 1)],
    ),
    (
        "rds",
        151,
        &[
            ("DescribeOrderableDBInstanceOptions", 45),
            ("DescribeDBInstances", 35),
            ("DescribeDBEngineVersions", 21),
            ("DescribeDBSnapshots", 15),
            ("ListTagsForResource", 6),
            ("DescribeRecommendations", 4),
            ("ModifyDBSnapshotAttribute", 3),
            ("DeleteDBInstance", 2),
        ],
    ),
    ("sts", 83, &[("AssumeRole", 64), ("GetCallerIdentity", 18), ("GetFederationToken", 1)]),
    ("health", 48, &[("DescribeEventAggregates", 48)]),
    (
        "cloudtrail",
        40,
        &[
            ("DescribeTrails", 7),
            ("StartLogging", 6),
            ("GetEventSelectors", 4),
            ("DeleteTrail", 4),
            ("ListTags", 4),
            ("StopLogging", 4),
            ("GetTrailStatus", 3),
            ("PutEventSelectors", 3),
        ],
    ),
    (
        "lambda",
        30,
        &[
            ("GetFunction20150331v2", 7),
            ("CreateFunction20150331", 6),
            ("GetFunctionCodeSigningConfig", 4),
            ("ListVersionsByFunction20150331", 4),
            ("UpdateFunctionCode20150331v2", 3),
            ("AddPermission20150331v2", 2),
            ("DeleteFunction20150331", 2),
        ],
    ),
    (
        "bedrock",
        15,
        &[
            ("GetFoundationModelAvailability", 10),
            ("PutFoundationModelEntitlement", 1),
            ("InvokeModel", 1),
            ("CreateFoundationModelAgreement", 1),
        ],
    ),
    ("signin", 10, &[("ConsoleLogin", 10)]),
    ("logs", 6, &[("CreateLogGroup", 2), ("DescribeLogGroups", 4)]),
    ("organizations", 5, &[("DescribeOrganization", 3), ("LeaveOrganization", 2)]),
    ("guardduty", 4, &[("ListDetectors", 3), ("DeleteDetector", 1)]),
];

/// userIdentity.type (the 43 records without one are folded into AWSService).
pub const USER_TYPES: &[(&str, u32)] = &[
    ("IAMUser", 2998),
    ("AssumedRole", 147),
    ("AWSService", 78),
    ("Root", 3),
    ("FederatedUser", 2),
    ("AWSAccount", 1),
];

/// errorCode (None = no error: 2,875 of 3,229).
pub const ERROR_CODES: &[(Option<&str>, u32)] = &[
    (None, 2875),
    (Some("ThrottlingException"), 102),
    (Some("Client.UnauthorizedOperation"), 90),
    (Some("AccessDenied"), 22),
    (Some("NoSuchBucketPolicy"), 14),
    (Some("Client.InvalidRouteTableID.NotFound"), 13),
    (Some("NoSuchPublicAccessBlockConfiguration"), 12),
    (Some("NoSuchLifecycleConfiguration"), 10),
    (Some("TrailNotFoundException"), 8),
    (Some("NoSuchEntityException"), 5),
    (Some("InvalidParameterValueException"), 4),
    (Some("ResourceNotFoundException"), 2),
];

/// awsRegion: the samples are 90 % us-east-1; the stratus set's anonymised regions are replaced
/// by real region names with the same total weight.
pub const REGIONS: &[(&str, u32)] = &[
    ("us-east-1", 2909),
    ("us-east-2", 60),
    ("us-west-2", 60),
    ("eu-west-1", 60),
    ("eu-central-1", 50),
    ("ap-southeast-2", 40),
    ("ap-northeast-1", 30),
    ("sa-east-1", 20),
];

pub const ACCOUNTS: &[&str] = &["218007301253", "123456789012", "111122223333", "444455556666"];

pub const USER_AGENTS: &[(&str, u32)] = &[
    ("APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/dev (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.44.157 (go1.19.3; linux; amd64)", 1938),
    ("AWS Internal", 419),
    ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.184-154.736.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard]", 70),
    ("aws-cli/2.13.0 Python/3.11.4 Linux/6.2.0-1008-aws exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances", 300),
    ("Boto3/1.28.3 md/Botocore#1.31.3 ua/2.0 os/linux#6.2.0 md/arch#x86_64 lang/python#3.11.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.3", 250),
];

/// Number of distinct IAM users / roles / buckets the events draw from.
pub const USERS: usize = 400;
pub const ROLES: usize = 100;
pub const BUCKETS: usize = 300;

fn service_weights() -> Vec<(usize, u32)> {
    SERVICES.iter().enumerate().map(|(i, s)| (i, s.1)).collect()
}

fn push_user_identity(rng: &mut Rng, s: &mut String, account: &str, service: &str) -> (String, String) {
    let kind = *rng.weighted(USER_TYPES);
    let mut key = String::from("AKIA");
    for _ in 0..16 {
        key.push(char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng.below(32)]));
    }
    match kind {
        "IAMUser" => {
            let user = format!("user-{:04}", rng.below(USERS));
            let _ = write!(
                s,
                r#"{{"type":"IAMUser","principalId":"AIDA{key}","arn":"arn:aws:iam::{account}:user/{user}","accountId":"{account}","accessKeyId":"{key}","userName":"{user}"}}"#
            );
            (kind.to_owned(), user)
        }
        "AssumedRole" | "FederatedUser" => {
            let role = format!("role-{:03}", rng.below(ROLES));
            let session = rng.uuid();
            let _ = write!(
                s,
                r#"{{"type":"{kind}","principalId":"AROA{key}:{session}","arn":"arn:aws:sts::{account}:assumed-role/{role}/{session}","accountId":"{account}","accessKeyId":"ASIA{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{key}","arn":"arn:aws:iam::{account}:role/{role}","accountId":"{account}","userName":"{role}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"2023-07-10T11:42:00Z","mfaAuthenticated":"false"}}}}}}"#
            );
            (kind.to_owned(), role)
        }
        "Root" => {
            let _ = write!(
                s,
                r#"{{"type":"Root","principalId":"{account}","arn":"arn:aws:iam::{account}:root","accountId":"{account}","accessKeyId":"{key}"}}"#
            );
            (kind.to_owned(), "root".to_owned())
        }
        "AWSAccount" => {
            let _ = write!(s, r#"{{"type":"AWSAccount","principalId":"AIDA{key}","accountId":"{account}"}}"#);
            (kind.to_owned(), String::new())
        }
        _ => {
            let _ = write!(s, r#"{{"type":"AWSService","invokedBy":"{service}.amazonaws.com"}}"#);
            (kind.to_owned(), String::new())
        }
    }
}

/// A JSON object of roughly `size` bytes, shaped like big requestParameters/responseElements
/// (policy documents, instance descriptions): nested objects, arrays, strings and numbers.
fn push_bulk(rng: &mut Rng, s: &mut String, size: usize) {
    let start = s.len();
    s.push_str(r#"{"items":["#);
    let mut first = true;
    while s.len() - start < size {
        if !first {
            s.push(',');
        }
        first = false;
        let _ = write!(
            s,
            r#"{{"instanceId":"i-{:017x}","imageId":"ami-{:08x}","state":{{"code":{},"name":"running"}},"privateIpAddress":"10.{}.{}.{}","tags":[{{"key":"Name","value":"node-{}"}},{{"key":"team","value":"t{}"}}],"blockDeviceMapping":[{{"deviceName":"/dev/xvda","ebs":{{"volumeId":"vol-{:017x}","deleteOnTermination":true,"sizeGb":{}}}}}],"launchTime":{}}}"#,
            rng.next_u64() >> 4,
            rng.next_u64() as u32,
            16,
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(10_000),
            rng.below(50),
            rng.next_u64() >> 4,
            8 + rng.below(500),
            1_688_990_000 + rng.below(100_000)
        );
    }
    s.push_str("]}");
}

/// Size of the record's bulk payload: most records carry none; a long tail up to ~256 KB.
fn bulk_size(rng: &mut Rng) -> usize {
    let r = rng.unit();
    if r < 0.001 {
        150_000 + rng.below(100_000) // a few near the 256 KB event limit
    } else if r < 0.004 {
        16_000 + rng.below(100_000)
    } else if r < 0.03 {
        2_000 + rng.below(12_000)
    } else {
        0
    }
}

/// One CloudTrail record (JSON object), as in a CloudTrail log file.
pub fn cloudtrail_record(rng: &mut Rng) -> String {
    let weights = service_weights();
    let service = SERVICES[*rng.weighted(&weights)];
    let name = *rng.weighted(service.2);
    let account = *rng.weighted(&[(ACCOUNTS[0], 90), (ACCOUNTS[1], 5), (ACCOUNTS[2], 3), (ACCOUNTS[3], 2)]);
    let region = if service.0 == "iam" || service.0 == "signin" { "us-east-1" } else { *rng.weighted(REGIONS) };
    let error = *rng.weighted(ERROR_CODES);
    let read_only = ["Describe", "Get", "List"].iter().any(|p| name.starts_with(p));
    let mut s = String::with_capacity(1400);
    let _ = write!(s, r#"{{"eventVersion":"1.08","userIdentity":"#);
    let (user_type, _user) = push_user_identity(rng, &mut s, account, service.0);
    let ip = if user_type == "AWSService" {
        format!("{}.amazonaws.com", service.0)
    } else if rng.chance(0.7) {
        format!("{}.{}.{}.{}", 3 + rng.below(50), rng.below(256), rng.below(256), 1 + rng.below(254))
    } else {
        format!("10.{}.{}.{}", rng.below(20), rng.below(256), 1 + rng.below(254))
    };
    let _ = write!(
        s,
        r#","eventTime":"2023-07-10T{:02}:{:02}:{:02}Z","eventSource":"{}.amazonaws.com","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{}""#,
        11 + rng.below(2),
        rng.below(60),
        rng.below(60),
        service.0,
        rng.weighted(USER_AGENTS)
    );
    if let Some(code) = error {
        let _ = write!(
            s,
            r#","errorCode":"{code}","errorMessage":"User is not authorized to perform: {}:{name} on resource because no identity-based policy allows the action""#,
            service.0
        );
    }
    let bulk = bulk_size(rng);
    let mut request_bulk = 0;
    s.push_str(r#","requestParameters":"#);
    match service.0 {
        "s3" => {
            let _ = write!(
                s,
                r#"{{"bucketName":"bucket-{:03}","Host":"bucket-{:03}.s3.amazonaws.com","key":"logs/2023/07/10/part-{:05}.json""#,
                rng.below(BUCKETS),
                rng.below(BUCKETS),
                rng.below(100_000)
            );
            if name.starts_with("Get") || name.starts_with("List") {
                let _ = write!(s, r#","maxResults":{}"#, 1 + rng.below(1000));
            }
            s.push('}');
        }
        "kms" => {
            let _ = write!(
                s,
                r#"{{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","keyId":"arn:aws:kms:{region}:{account}:key/{}","encryptionContext":{{"SecretARN":"arn:aws:secretsmanager:{region}:{account}:secret:app-{}"}}}}"#,
                rng.uuid(),
                rng.below(100)
            );
        }
        _ if read_only && bulk == 0 => {
            if rng.chance(0.5) {
                s.push_str("null");
            } else {
                let _ = write!(s, r#"{{"maxResults":{},"filterSet":{{}}}}"#, 1 + rng.below(1000));
            }
        }
        _ => {
            if bulk > 0 {
                request_bulk = bulk / 2;
                push_bulk(rng, &mut s, request_bulk);
            } else {
                let _ = write!(
                    s,
                    r#"{{"name":"/app/config/param-{}","type":"SecureString","overwrite":true,"tags":[{{"key":"env","value":"prod"}}]}}"#,
                    rng.below(500)
                );
            }
        }
    }
    s.push_str(r#","responseElements":"#);
    if bulk > 0 {
        push_bulk(rng, &mut s, bulk - request_bulk);
    } else if read_only || error.is_some() {
        s.push_str("null");
    } else {
        let _ = write!(s, r#"{{"requestId":"{}","return":true}}"#, rng.uuid());
    }
    let request = rng.uuid();
    let event = rng.uuid();
    let _ = write!(
        s,
        r#","requestID":"{request}","eventID":"{event}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"{}.{region}.amazonaws.com"}}}}"#,
        service.0
    );
    s
}

/// The EventBridge event CloudTrail delivers for `record` (built by string surgery, as the
/// generator knows the record's shape).
pub fn eventbridge_event(rng: &mut Rng, record: &str) -> String {
    let field = |name: &str| -> &str {
        let key = format!("\"{name}\":\"");
        let at = record.find(&key).expect("field") + key.len();
        &record[at..at + record[at..].find('"').expect("end")]
    };
    let source = field("eventSource").trim_end_matches(".amazonaws.com");
    format!(
        r#"{{"version":"0","id":"{}","detail-type":"AWS API Call via CloudTrail","source":"aws.{source}","account":"{}","time":"{}","region":"{}","resources":[],"detail":{record}}}"#,
        rng.uuid(),
        field("recipientAccountId"),
        field("eventTime"),
        field("awsRegion"),
    )
}

/// `n` CloudTrail records.
pub fn cloudtrail_records(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| cloudtrail_record(&mut rng)).collect()
}

/// `n` CloudTrail-like EventBridge events.
pub fn cloudtrail_events(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let records = cloudtrail_records(n, seed);
    records.iter().map(|r| eventbridge_event(&mut rng, r).into_bytes()).collect()
}

/// A CloudTrail log file `{"Records":[...]}` of `records`.
pub fn cloudtrail_file(records: &[String]) -> Vec<u8> {
    let mut out = String::from("{\"Records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r);
    }
    out.push_str("]}");
    out.into_bytes()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn total_bytes<T: AsRef<[u8]>>(items: &[T]) -> usize {
    items.iter().map(|e| e.as_ref().len()).sum()
}

// ---------------------------------------------------------------------------------------------
// Rule sets over the CloudTrail-like events.

fn all_names() -> Vec<(&'static str, &'static str)> {
    SERVICES.iter().flat_map(|s| s.2.iter().map(move |(n, _)| (s.0, *n))).collect()
}

/// `n` rules mixing every operator: exact, prefix, suffix, equals-ignore-case, wildcard,
/// anything-but, numeric ranges, cidr, exists, `$or`. Each rule is distinct; most are
/// selective, a few match often.
pub fn mixed_rules(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let names = all_names();
    let errors: Vec<&str> = ERROR_CODES.iter().filter_map(|(e, _)| *e).collect();
    (0..n)
        .map(|i| {
            let (svc, name) = *rng.pick(&names);
            let user = format!("user-{:04}", rng.below(USERS * 4));
            match i % 10 {
                0 => format!(r#"{{"source":["aws.{svc}"],"detail":{{"eventName":["{name}"],"userIdentity":{{"userName":["{user}"]}}}}}}"#),
                1 => format!(
                    r#"{{"detail":{{"eventName":[{{"prefix":"{}"}}],"requestParameters":{{"bucketName":[{{"prefix":"bucket-{:03}"}}]}}}}}}"#,
                    &name[..name.len().min(4)],
                    rng.below(BUCKETS * 3)
                ),
                2 => format!(r#"{{"detail":{{"userIdentity":{{"arn":[{{"suffix":"/{user}"}}]}},"eventSource":["{svc}.amazonaws.com"]}}}}"#),
                3 => format!(
                    r#"{{"detail":{{"eventName":[{{"equals-ignore-case":"{}"}}],"awsRegion":["{}"],"userIdentity":{{"userName":["{user}"]}}}}}}"#,
                    name.to_lowercase(),
                    rng.weighted(REGIONS)
                ),
                4 => match rng.below(3) {
                    0 => format!(r#"{{"detail":{{"userIdentity":{{"arn":[{{"wildcard":"arn:aws:iam::*:user/{user}"}}]}}}}}}"#),
                    1 => format!(r#"{{"detail":{{"requestParameters":{{"key":[{{"wildcard":"logs/*/part-{:05}.json"}}]}}}}}}"#, rng.below(100_000)),
                    _ => format!(r#"{{"detail":{{"eventName":[{{"wildcard":"*{}*"}}],"userIdentity":{{"userName":["{user}"]}}}}}}"#, &name[name.len() / 2..]),
                },
                5 => format!(
                    r#"{{"source":["aws.{svc}"],"detail":{{"eventName":[{{"anything-but":["{name}"]}}],"userIdentity":{{"userName":["{user}"]}}}}}}"#
                ),
                6 => {
                    let lo = rng.below(1000);
                    format!(
                        r#"{{"detail":{{"eventSource":["{svc}.amazonaws.com"],"requestParameters":{{"maxResults":[{{"numeric":[">",{lo},"<=",{}]}}]}},"userIdentity":{{"userName":["{user}"]}}}}}}"#,
                        lo + 1 + rng.below(20)
                    )
                }
                7 => format!(
                    r#"{{"detail":{{"sourceIPAddress":[{{"cidr":"{}.{}.{}.0/24"}}]}}}}"#,
                    3 + rng.below(50),
                    rng.below(256),
                    rng.below(256)
                ),
                8 => format!(
                    r#"{{"detail":{{"errorCode":[{{"exists":true}}],"eventSource":["{svc}.amazonaws.com"],"userIdentity":{{"userName":["{user}"]}}}}}}"#
                ),
                _ => format!(
                    r#"{{"detail":{{"$or":[{{"eventName":["{name}"]}},{{"errorCode":["{}"]}}],"userIdentity":{{"userName":["{user}"]}}}}}}"#,
                    rng.pick(&errors)
                ),
            }
        })
        .collect()
}

/// `n` exact-match rules, each on one unique value of one of three fields (the first few
/// hundred values occur in the events).
pub fn exact_rules(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let k = i / 3;
            match i % 3 {
                0 => format!(r#"{{"detail":{{"userIdentity":{{"userName":["user-{k:04}"]}}}}}}"#),
                1 => format!(r#"{{"detail":{{"requestParameters":{{"bucketName":["bucket-{k:03}"]}}}}}}"#),
                _ => format!(
                    r#"{{"detail":{{"userIdentity":{{"arn":["arn:aws:iam::218007301253:user/user-{k:04}"]}}}}}}"#
                ),
            }
        })
        .collect()
}

/// `n` wildcard rules over the same fields as [`exact_rules`] (leading, inner and trailing `*`).
pub fn wildcard_rules(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let k = i / 3;
            match i % 3 {
                0 => format!(r#"{{"detail":{{"userIdentity":{{"userName":[{{"wildcard":"user-{k:04}*"}}]}}}}}}"#),
                1 => format!(r#"{{"detail":{{"requestParameters":{{"bucketName":[{{"wildcard":"*-{k:03}"}}]}}}}}}"#),
                _ => format!(
                    r#"{{"detail":{{"userIdentity":{{"arn":[{{"wildcard":"arn:aws:iam::*:user/user-{k:04}"}}]}}}}}}"#
                ),
            }
        })
        .collect()
}

/// `n` exact rules shaped like the landscape's side-by-side set ("source + eventName lists;
/// many match"): each names one service and five of its operations.
pub fn source_name_rules(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            // Services and names uniformly from the tables (the events favour a few): about
            // 3 % of events match each rule, as in the landscape's set (320 matches per event
            // with 10,000 rules).
            let (svc, _, names) = *rng.pick(SERVICES);
            let list: Vec<String> = (0..5).map(|_| format!("\"{}\"", rng.pick(names).0)).collect();
            format!(r#"{{"source":["aws.{svc}"],"detail":{{"eventName":[{}]}}}}"#, list.join(","))
        })
        .collect()
}

/// `n` wildcard rules on `detail.userIdentity.arn`, as in the landscape's side-by-side set.
pub fn arn_wildcard_rules(n: usize) -> Vec<String> {
    (0..n)
        .map(|k| {
            let user = k % USERS;
            match k % 4 {
                0 => format!(r#"{{"detail":{{"userIdentity":{{"arn":[{{"wildcard":"arn:aws:iam::*:user/user-{user:04}"}}]}}}}}}"#),
                1 => format!(r#"{{"detail":{{"userIdentity":{{"arn":[{{"wildcard":"*:user/user-{user:04}"}}]}}}}}}"#),
                2 => format!(r#"{{"detail":{{"userIdentity":{{"arn":[{{"wildcard":"arn:aws:sts::*:assumed-role/role-{:03}/*"}}]}}}}}}"#, k % ROLES),
                _ => format!(r#"{{"detail":{{"userIdentity":{{"arn":[{{"wildcard":"arn:aws:iam::*{k}*"}}]}}}}}}"#),
            }
        })
        .collect()
}

/// ~20 rules that match often (by source, type, read-only flag, error, region…).
pub fn hot_rules() -> Vec<String> {
    [
        r#"{"detail-type":["AWS API Call via CloudTrail"]}"#,
        r#"{"source":["aws.ec2"]}"#,
        r#"{"source":["aws.ssm","aws.kms"]}"#,
        r#"{"source":["aws.iam"],"detail":{"readOnly":[false]}}"#,
        r#"{"detail":{"readOnly":[true]}}"#,
        r#"{"detail":{"eventName":[{"prefix":"Describe"}]}}"#,
        r#"{"detail":{"eventName":[{"prefix":"Get"}]}}"#,
        r#"{"detail":{"errorCode":[{"exists":true}]}}"#,
        r#"{"detail":{"errorCode":["AccessDenied","Client.UnauthorizedOperation"]}}"#,
        r#"{"detail":{"userIdentity":{"type":["IAMUser"]}}}"#,
        r#"{"detail":{"userIdentity":{"type":["AssumedRole"]}}}"#,
        r#"{"detail":{"userIdentity":{"type":["Root"]}}}"#,
        r#"{"region":["us-east-1"]}"#,
        r#"{"region":[{"anything-but":["us-east-1"]}]}"#,
        r#"{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/8"}]}}"#,
        r#"{"detail":{"userAgent":[{"wildcard":"*Terraform*"}]}}"#,
        r#"{"detail":{"eventSource":[{"suffix":"manager.amazonaws.com"}]}}"#,
        r#"{"detail":{"eventName":[{"equals-ignore-case":"decrypt"}]}}"#,
        r#"{"detail":{"requestParameters":{"maxResults":[{"numeric":[">",500]}]}}}"#,
        r#"{"$or":[{"source":["aws.s3"]},{"detail":{"eventName":["AssumeRole"]}}]}"#,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// `n` selective rules, each watching a unique user name, bucket, CIDR, ARN wildcard or
/// (event name, user) pair.
pub fn selective_rules(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let names = all_names();
    (0..n)
        .map(|i| match i % 5 {
            0 => format!(r#"{{"detail":{{"userIdentity":{{"userName":["watch-user-{i}"]}}}}}}"#),
            1 => format!(r#"{{"detail":{{"requestParameters":{{"bucketName":["watch-bucket-{i}"]}}}}}}"#),
            2 => {
                let x = i / 5;
                format!(r#"{{"detail":{{"sourceIPAddress":[{{"cidr":"100.{}.{}.0/24"}}]}}}}"#, 64 + x / 256, x % 256)
            }
            3 => format!(r#"{{"detail":{{"userIdentity":{{"arn":[{{"wildcard":"arn:aws:iam::*:user/watch-{i}-*"}}]}}}}}}"#),
            _ => {
                let (svc, name) = *rng.pick(&names);
                format!(
                    r#"{{"source":["aws.{svc}"],"detail":{{"eventName":["{name}"],"userIdentity":{{"userName":["watch-user-{i}"]}}}}}}"#
                )
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// CloudWatch Logs filter patterns over the raw CloudTrail records, and the equivalent event
// patterns (matched against the same raw records).

/// `n` generated JSON filter patterns and, for each, the equivalent EventBridge pattern.
pub fn filter_pairs(n: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng::new(seed);
    let names = all_names();
    (0..n)
        .map(|i| {
            let (svc, name) = *rng.pick(&names);
            let user = format!("user-{:04}", rng.below(USERS * 4));
            match i % 4 {
                0 => (
                    format!(r#"{{ ($.eventName = "{name}") && ($.userIdentity.userName = "{user}") }}"#),
                    format!(r#"{{"eventName":["{name}"],"userIdentity":{{"userName":["{user}"]}}}}"#),
                ),
                1 => (
                    format!(r#"{{ ($.eventSource = "{svc}.amazonaws.com") && ($.errorCode = "*Denied*") && ($.userIdentity.userName = "{user}") }}"#),
                    format!(
                        r#"{{"eventSource":["{svc}.amazonaws.com"],"errorCode":[{{"wildcard":"*Denied*"}}],"userIdentity":{{"userName":["{user}"]}}}}"#
                    ),
                ),
                2 => (
                    format!(r#"{{ ($.requestParameters.bucketName = "bucket-{:03}") && ($.eventName = "Put*") }}"#, rng.below(BUCKETS * 3)),
                    format!(
                        r#"{{"requestParameters":{{"bucketName":["bucket-{:03}"]}},"eventName":[{{"prefix":"Put"}}]}}"#,
                        rng.below(BUCKETS * 3)
                    ),
                ),
                _ => {
                    let lo = rng.below(1000);
                    (
                        format!(r#"{{ ($.requestParameters.maxResults > {lo}) && ($.userIdentity.userName = "{user}") }}"#),
                        format!(
                            r#"{{"requestParameters":{{"maxResults":[{{"numeric":[">",{lo}]}}]}},"userIdentity":{{"userName":["{user}"]}}}}"#
                        ),
                    )
                }
            }
        })
        .collect()
}

/// The CIS / Security Hub filter patterns of `tests/data/filter-patterns/cis_patterns.json`
/// (copied to `benches/data/cis_patterns.json`).
pub fn cis_patterns() -> Vec<String> {
    let all: serde_json::Value =
        serde_json::from_str(include_str!("../data/cis_patterns.json")).expect("cis_patterns.json");
    all.as_array()
        .expect("array")
        .iter()
        .map(|p| p["filter_pattern"].as_str().expect("filter_pattern").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// citylots2-like GeoJSON events (see benches/data/README.md for the shape and distributions).

/// SF street names, weighted: the ones the CL2 rules hit at roughly their implied frequencies.
const STREETS: &[(&str, u32)] = &[
    ("FULTON", 90),
    ("MASON", 125),
    ("JEFFERSON", 6),
    ("BEACH", 10),
    ("HYDE", 83),
    ("CHESTNUT", 39),
    ("ACTON", 1),
    ("BLAKE", 10),
    ("BLANKEN", 11),
    ("DRUMM", 2),
    ("RHODE ISLAND", 15),
    ("GREENWICH", 60),
    ("WASHINGTON", 120),
    ("JACKSON", 110),
    ("CLAYTON", 40),
    ("HARRISON", 100),
    ("MORAGA", 80),
    ("NORIEGA", 90),
    ("KIRKHAM", 70),
    ("LAKE", 60),
    ("CHICAGO", 30),
    ("SANTIAGO", 30),
    ("MISSION", 150),
    ("VALENCIA", 100),
    ("GEARY", 120),
    ("CALIFORNIA", 130),
    ("SACRAMENTO", 110),
    ("CLEMENT", 80),
    ("BALBOA", 90),
    ("CABRILLO", 90),
    ("IRVING", 80),
    ("JUDAH", 90),
    ("TARAVAL", 90),
    ("VICENTE", 80),
    ("ORTEGA", 80),
    ("QUINTARA", 80),
    ("24TH", 100),
    ("19TH", 110),
    ("FOLSOM", 100),
    ("HOWARD", 80),
    ("BRYANT", 80),
    ("POTRERO", 50),
    ("DOLORES", 60),
    ("CHURCH", 70),
    ("SANCHEZ", 70),
    ("NOE", 60),
    ("CASTRO", 60),
    ("DIAMOND", 50),
    ("ALEMANY", 40),
    ("SAN JOSE", 50),
    ("OCEAN", 60),
    ("GENEVA", 50),
    ("SUNNYDALE", 30),
    ("THIRD", 60),
    ("VAN NESS", 40),
];

const ST_TYPES: &[(&str, u32)] =
    &[("ST", 550), ("AVE", 250), ("BLVD", 30), ("WAY", 40), ("TER", 40), ("DR", 30), ("CT", 30), ("PL", 30)];

/// One citylots2 line.
pub fn citylot(rng: &mut Rng) -> String {
    let block = rng.below(7600);
    let lot = rng.below(300);
    let mapblklot = if rng.chance(0.00002) { "VACSTWIL".to_owned() } else { format!("{block:04}{lot:03}") };
    let from = if rng.chance(0.0115) { 441 } else { 1 + rng.below(3000) };
    let multi = rng.chance(0.000_56);
    let lon0 = -122.52 + rng.unit() * 0.16;
    let lat0 = 37.70 + rng.unit() * 0.11;
    let mut s = String::with_capacity(1000);
    let _ = write!(
        s,
        r#"{{"type":"Feature","properties":{{"MAPBLKLOT":"{mapblklot}","BLKLOT":"{block:04}{lot:03}","BLOCK_NUM":"{block:04}","LOT_NUM":"{lot:03}","FROM_ST":"{from}","TO_ST":"{}","STREET":"{}","ST_TYPE":"{}","ODD_EVEN":"{}"}},"geometry":{{"type":"{}","firstCoordinates":{{"x":{lon0},"y":{lat0},"z":0}},"coordinates":[["#,
        from + rng.below(20),
        rng.weighted(STREETS),
        rng.weighted(ST_TYPES),
        if from % 2 == 1 { "O" } else { "E" },
        if multi { "MultiPolygon" } else { "Polygon" },
    );
    let points = 4 + rng.below(14);
    for p in 0..points {
        if p > 0 {
            s.push(',');
        }
        let (x, y) = if p == 0 || p == points - 1 {
            (lon0, lat0)
        } else {
            (lon0 + (rng.unit() - 0.5) * 0.0006, lat0 + (rng.unit() - 0.5) * 0.0006)
        };
        let _ = write!(s, r#"{{"x":{x},"y":{y},"z":0}}"#);
    }
    s.push_str("]]}}");
    s
}

pub fn citylots(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| citylot(&mut rng).into_bytes()).collect()
}

/// A CL2 rule set from `benches/data/` (aws/event-ruler's Benchmarks.java, Apache-2.0).
pub fn cl2_rules(set: &str) -> Vec<String> {
    let text = match set {
        "exact" => include_str!("../data/exact.jsonl"),
        "prefix" => include_str!("../data/prefix.jsonl"),
        "suffix" => include_str!("../data/suffix.jsonl"),
        "wildcard" => include_str!("../data/wildcard.jsonl"),
        "anything_but" => include_str!("../data/anything_but.jsonl"),
        "equals_ignore_case" => include_str!("../data/equals_ignore_case.jsonl"),
        "numeric" => include_str!("../data/numeric.jsonl"),
        "complex_arrays" => include_str!("../data/complex_arrays.jsonl"),
        other => panic!("unknown CL2 set {other}"),
    };
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// Compiles `patterns` into a Ruleset named `r0`, `r1`, ….
pub fn ruleset(patterns: &[String]) -> trailmatch_core::Ruleset {
    let mut rules = trailmatch_core::Ruleset::new();
    for (i, p) in patterns.iter().enumerate() {
        rules.add(&format!("r{i}"), p).unwrap_or_else(|e| panic!("rule {i} {p}: {e}"));
    }
    rules
}
