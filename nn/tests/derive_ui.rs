//! `#[derive(Module)]`'s compile errors, checked against their expected
//! messages (`tests/ui/*.stderr`): each points at the offending field or
//! attribute. After a deliberate change of a message, regenerate the
//! expectations with `TRYBUILD=overwrite cargo test -p torchlet-nn --test
//! derive_ui` and review the diff. The messages are rustc's, so a new
//! toolchain may reword them.

#[test]
fn derive_errors_point_at_the_field() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
