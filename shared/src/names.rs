//! CodePipeline's names for pipelines and stages, the only names handsoff accepts for them: they
//! become record keys (`AUDIT#orders#Prod`) and words in commands people copy, so never a `#`
//! that would split a key or a `$(...)` a shell would run.

/// What a valid name is, for messages.
pub const ALLOWED: &str = "1 to 100 of A-Z a-z 0-9 . @ - _";

/// Whether `name` is a CodePipeline pipeline or stage name.
pub fn is_codepipeline_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".@-_".contains(&byte))
}

/// `field: not a CodePipeline name (...)` unless each named value is one.
pub fn check<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), crate::error::Invalid> {
    for (field, value) in fields {
        if !is_codepipeline_name(value) {
            return Err(format!("{field}: not a CodePipeline name ({ALLOWED})").into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_that_could_split_a_key_or_run_in_a_shell_are_refused() {
        assert!(super::is_codepipeline_name("Prod-1.eu@west_2"));
        for bad in ["Prod#1", "x$(curl evil)", "", "a b", &"x".repeat(101)] {
            assert!(!super::is_codepipeline_name(bad), "{bad:?}");
        }
        let error = super::check([("context.stage", "Prod"), ("policy_ref.stage", "a#b")]).unwrap_err();
        assert_eq!(
            error.0,
            "policy_ref.stage: not a CodePipeline name (1 to 100 of A-Z a-z 0-9 . @ - _)"
        );
    }
}
