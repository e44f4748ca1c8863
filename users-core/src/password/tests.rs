//! Unit tests of `crate::password`.
use argon2::{PasswordHasher as _, PasswordVerifier as _};

use super::*;

fn hasher(m: u32, t: u32, p: u32) -> PasswordHasher {
    let config = UsersConfig::new([1u8; 32])
        .unwrap()
        .argon2_params(m, t, p)
        .unwrap();
    PasswordHasher::new(&config)
}

#[test]
fn hashes_are_salted_argon2id_phc_strings() {
    let hasher = hasher(8, 1, 1);
    let first = hasher.hash("hunter2hunter2").unwrap();
    let second = hasher.hash("hunter2hunter2").unwrap();
    assert!(first.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{first}");
    assert_ne!(first, second, "each hash has its own salt");
    assert_eq!(
        hasher.verify("hunter2hunter2", &first),
        PasswordVerification::Valid
    );
    assert_eq!(
        hasher.verify("hunter2hunter3", &first),
        PasswordVerification::Invalid
    );
}

#[test]
fn hashes_and_verifies_as_the_argon2_crate_does() {
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
    let password = "pa55word-pa55word";
    for (m, t, p) in [(8, 1, 1), (64, 2, 1), (96, 3, 2), (256, 1, 4)] {
        let ours = hasher(m, t, p);
        let params = Params::new(m, t, p, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let expected = theirs.hash_password(password.as_bytes(), &salt).unwrap();
        let made = ours.hash_with_salt(password, salt.as_salt()).unwrap();
        assert_eq!(made.to_string(), expected.to_string(), "m={m} t={t} p={p}");

        let fresh = ours.hash(password).unwrap();
        let fresh = PasswordHash::new(&fresh).unwrap();
        assert!(theirs.verify_password(password.as_bytes(), &fresh).is_ok());
        assert!(theirs
            .verify_password(b"pa55word-pa55worD", &fresh)
            .is_err());
    }
    // Their hashes with other output lengths, a key id or associated data verify with ours.
    let mut builder = argon2::ParamsBuilder::new();
    builder.m_cost(64).t_cost(2).p_cost(1).output_len(64);
    let keyid = argon2::KeyId::new(&[1, 2, 3, 4]).unwrap();
    builder
        .keyid(keyid)
        .data(argon2::AssociatedData::new(&[5; 16]).unwrap());
    for params in [
        Params::new(64, 2, 1, Some(16)).unwrap(),
        builder.build().unwrap(),
    ] {
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(hasher(64, 2, 1).verify(password, &phc).is_valid(), "{phc}");
        let wrong = hasher(64, 2, 1).verify("pa55word-pa55wor", &phc);
        assert_eq!(wrong, PasswordVerification::Invalid, "{phc}");
    }
}

#[test]
fn matrices_are_wiped_after_every_run_and_kept_up_to_the_limit() {
    let config = UsersConfig::new([1u8; 32]).unwrap();
    let config = config.argon2_params(64, 1, 1).unwrap();
    let hasher = PasswordHasher::new(&config.clone().argon2_memory_reuse(2));
    // (blocks, wiped) of each idle matrix.
    let idle = |hasher: &PasswordHasher| {
        let idle = hasher.matrices.idle();
        let wiped = |matrix: &[Block]| matrix.iter().all(|b| b.as_ref().iter().all(|&w| w == 0));
        idle.iter().map(|m| (m.len(), wiped(m))).collect::<Vec<_>>()
    };
    assert_eq!(idle(&hasher), []);
    let phc = hasher.hash("pa55word-pa55word").unwrap();
    assert_eq!(idle(&hasher), [(64, true)]);
    assert_eq!(
        hasher.verify("pa55word-pa55word", &phc),
        PasswordVerification::Valid
    );
    assert_eq!(
        idle(&hasher),
        [(64, true)],
        "the one idle matrix was reused"
    );

    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| hasher.verify("pa55word-pa55word", &phc)))
            .collect();
        for worker in workers {
            assert_eq!(worker.join().unwrap(), PasswordVerification::Valid);
        }
    });
    let kept = idle(&hasher);
    assert!((1..=2).contains(&kept.len()), "{kept:?}");
    assert!(kept.iter().all(|&matrix| matrix == (64, true)), "{kept:?}");

    // An outdated hash is verified in a matrix of its own size, which is not kept.
    let outdated = self::hasher(32, 1, 1).hash("pa55word-pa55word").unwrap();
    let verification = hasher.verify("pa55word-pa55word", &outdated);
    assert_eq!(verification, PasswordVerification::ValidButOutdated);
    assert_eq!(idle(&hasher), kept);

    let keeps_none = PasswordHasher::new(&config.argon2_memory_reuse(0));
    let phc = keeps_none.hash("pa55word-pa55word").unwrap();
    assert!(keeps_none.verify("pa55word-pa55word", &phc).is_valid());
    assert_eq!(idle(&keeps_none), []);
}

#[test]
fn other_costs_or_variants_verify_as_outdated() {
    let old = hasher(8, 1, 1).hash("pa55word-pa55word").unwrap();
    for current in [hasher(16, 1, 1), hasher(8, 2, 1), hasher(16, 1, 2)] {
        assert_eq!(
            current.verify("pa55word-pa55word", &old),
            PasswordVerification::ValidButOutdated
        );
        assert_eq!(current.verify("wrong", &old), PasswordVerification::Invalid);
    }
    let params = Params::new(8, 1, 1, None).unwrap();
    let salt = SaltString::generate(&mut OsRng);
    for (algorithm, version) in [
        (Algorithm::Argon2i, Version::V0x13),
        (Algorithm::Argon2d, Version::V0x13),
        (Algorithm::Argon2id, Version::V0x10),
    ] {
        let phc = Argon2::new(algorithm, version, params.clone())
            .hash_password(b"pa55word-pa55word", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            hasher(8, 1, 1).verify("pa55word-pa55word", &phc),
            PasswordVerification::ValidButOutdated,
            "{phc}"
        );
    }
}

#[test]
fn malformed_hashes_are_invalid_without_panicking() {
    let hasher = hasher(8, 1, 1);
    let good = hasher.hash("pa55word-pa55word").unwrap();
    let malformed = [
        String::new(),
        "not a hash".to_owned(),
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(),
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned(),
        "$argon2id$v=19$m=8,t=1,p=4294967295$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        "$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        "$argon2id$v=19$m=8,t=1,p=1,x=3$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        "$argon2id$v=99$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ".to_owned(),
        good[..good.len() - 3].to_owned(),
        good.replace("$argon2id$", "$argon2xx$"),
    ];
    for phc in &malformed {
        let runs = hasher.verifications();
        assert_eq!(
            hasher.verify("pa55word-pa55word", phc),
            PasswordVerification::Invalid,
            "{phc:?}"
        );
        // Refusing an unusable hash costs what refusing a wrong password does.
        assert_eq!(hasher.verifications(), runs + 1, "{phc:?}");
    }
}

#[test]
fn the_dummy_hash_is_made_once_with_the_current_costs() {
    let hasher = hasher(16, 2, 1);
    assert!(hasher.dummy_hash.get().is_none());
    hasher.dummy_verify("whatever");
    let dummy = hasher.dummy_hash.get().cloned().unwrap();
    assert!(dummy.starts_with("$argon2id$v=19$m=16,t=2,p=1$"), "{dummy}");
    hasher.dummy_verify("something else");
    assert_eq!(hasher.dummy_hash.get(), Some(&dummy));
}

#[test]
fn length_rules_count_characters_below_and_bytes_above() {
    assert!(check_length("1234567", 8, 4096).is_err());
    assert!(check_length("12345678", 8, 4096).is_ok());
    // Seven two-byte characters are fourteen bytes but still seven characters.
    assert!(check_length(&"é".repeat(7), 8, 4096).is_err());
    assert!(check_length(&"é".repeat(8), 8, 4096).is_ok());
    assert!(check_length(&"a".repeat(4096), 8, 4096).is_ok());
    assert!(check_length(&"a".repeat(4097), 8, 4096).is_err());
    assert!(check_length(&"é".repeat(2048), 8, 4096).is_ok());
    assert!(check_length(&"€".repeat(1366), 8, 4096).is_err());
}

#[test]
fn length_errors_name_the_rule_not_the_password() {
    let problem = check_length("s3cr!", 8, 4096).unwrap_err();
    assert_eq!(problem, PasswordProblem::TooShort { min_chars: 8 });
    assert_eq!(problem.to_string(), "it needs at least 8 characters");
    let error = UsersError::InvalidPassword(problem);
    assert_eq!(
        error.to_string(),
        "invalid password: it needs at least 8 characters"
    );
    let long = "x".repeat(40);
    let problem = check_length(&long, 8, 32).unwrap_err();
    assert_eq!(problem, PasswordProblem::TooLong { max_bytes: 32 });
    assert_eq!(problem.code(), "too_long");
    let error = UsersError::InvalidPassword(problem);
    assert!(error.to_string().contains("32 bytes"));
    assert!(!error.to_string().contains(&long));
}

#[test]
fn a_dictionary_word_is_too_weak_with_the_estimates_advice() {
    let problem = check_strength("password", 3, &[]).unwrap_err();
    let PasswordProblem::TooWeak {
        score,
        required,
        warning,
        suggestions,
    } = &problem
    else {
        panic!("{problem:?}");
    };
    assert_eq!((*score, *required), (0, 3));
    assert!(warning.is_some(), "{problem:?}");
    assert!(!suggestions.is_empty(), "{problem:?}");
    assert_eq!(problem.code(), "too_weak");
    let message = problem.to_string();
    assert!(message.starts_with("it is too easy to guess"), "{message}");
    assert!(
        !message.to_lowercase().contains("\"password\""),
        "{message}"
    );
    for weak in ["iloveyou123", "qwertyuiop", "abcdefgh", "2019-01-01"] {
        assert!(check_strength(weak, 3, &[]).is_err(), "{weak}");
    }
    assert_eq!(
        check_strength("correct horse battery staple", 3, &[]),
        Ok(())
    );
}

#[test]
fn the_users_own_words_count_as_weak() {
    let inputs = user_inputs("zygmunt.krasicki@example.com", &["Wolfenbüttel Quartet"]);
    assert_eq!(
        inputs,
        [
            "zygmunt.krasicki@example.com",
            "zygmunt.krasicki",
            "zygmunt",
            "krasicki",
            "Wolfenbüttel Quartet",
            "Wolfenbüttel",
            "Quartet",
        ]
    );
    // Strong enough for a stranger, made of the user's email or profile: weak.
    for password in [
        "zygmunt.krasicki@example.com",
        "krasickizygmunt",
        "wolfenbüttelquartet",
    ] {
        assert_eq!(check_strength(password, 3, &[]), Ok(()), "{password}");
        assert!(
            matches!(
                check_strength(password, 3, &inputs),
                Err(PasswordProblem::TooWeak { .. })
            ),
            "{password}"
        );
    }
    assert_eq!(
        check_strength("correct horse battery staple", 3, &inputs),
        Ok(())
    );
}

#[test]
fn score_zero_turns_the_estimate_off() {
    assert_eq!(check_strength("password", 0, &[]), Ok(()));
    assert_eq!(check_strength("12345678", 0, &["12345678"]), Ok(()));
    assert!(check_strength("password", 1, &[]).is_err());
    // A score of 4 refuses what 3 lets through.
    let three = "a fine password";
    assert_eq!(check_strength(three, 3, &[]), Ok(()));
    assert!(matches!(
        check_strength(three, 4, &[]),
        Err(PasswordProblem::TooWeak {
            score: 3,
            required: 4,
            ..
        })
    ));
}

#[test]
fn the_estimate_reads_a_bounded_prefix() {
    // 4096 bytes of something strong, then weak: judged by the first 100 characters.
    let strong = "correct horse battery staple ".repeat(200);
    let started = std::time::Instant::now();
    assert_eq!(check_strength(&strong[..4096], 4, &[]), Ok(()));
    let weak = format!("{}{}", "a".repeat(100), &strong[..3996]);
    assert!(check_strength(&weak, 3, &[]).is_err());
    let multibyte = "é".repeat(2048);
    assert!(check_strength(&multibyte, 3, &[]).is_err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // An input that could match no part of the prefix is left out.
    let long_input = "x".repeat(ESTIMATED_CHARS + 1);
    assert_eq!(
        check_strength("correct horse battery staple", 3, &[&long_input]),
        Ok(())
    );
}

#[test]
fn problems_display_readably() {
    let cases = [
        (
            PasswordProblem::TooShort { min_chars: 12 },
            "it needs at least 12 characters",
        ),
        (
            PasswordProblem::TooShort { min_chars: 1 },
            "it must not be empty",
        ),
        (
            PasswordProblem::TooLong { max_bytes: 64 },
            "it has more than 64 bytes",
        ),
        (
            PasswordProblem::TooWeak {
                score: 1,
                required: 3,
                warning: Some("This is a very common password.".to_owned()),
                suggestions: vec!["Add another word or two.".to_owned()],
            },
            "it is too easy to guess (strength 1 of 4, 3 needed): This is a very common \
             password.",
        ),
        (
            PasswordProblem::TooWeak {
                score: 2,
                required: 3,
                warning: None,
                suggestions: vec!["Add another word or two.".to_owned()],
            },
            "it is too easy to guess (strength 2 of 4, 3 needed): Add another word or two.",
        ),
        (
            PasswordProblem::Rejected("it needs a digit".to_owned()),
            "it needs a digit",
        ),
    ];
    for (problem, message) in cases {
        assert_eq!(problem.to_string(), message);
    }
}
