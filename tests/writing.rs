//! Writing posts: `crieur schema`, `crieur new`, and `validate` for CI (`--format json|github`).

use crate::common;

#[test]
fn schema_prints_the_committed_schemas() {
    for (which, file) in [("config", "crieur.schema.json"), ("posts", "posts.schema.json")] {
        let out = common::run(&["schema", which]);
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        let committed = std::fs::read_to_string(format!("config/schema/{file}")).unwrap();
        assert_eq!(common::stdout(&out), committed, "crieur schema {which}");
        let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    }
    let out = common::run(&["schema", "nonsense"]);
    assert_eq!(out.status.code(), Some(2), "a wrong argument cannot run");
}
