//! The diesel schema of `migrations/`.

diesel::table! {
    metadata_versions (role, version) {
        role -> Text,
        version -> BigInt,
        bytes_hex -> Text,
        sha256 -> Text,
        length -> BigInt,
        created_at -> Text,
    }
}

diesel::table! {
    targets (role, path) {
        role -> Text,
        path -> Text,
        length -> BigInt,
        hashes -> Text,
        custom -> Nullable<Text>,
        blob_sha256 -> Text,
    }
}

diesel::table! {
    uploads (sha256) {
        sha256 -> Text,
        length -> BigInt,
        hashes -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    tokens (token_sha256) {
        token_sha256 -> Text,
        name -> Text,
        created_at -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(metadata_versions, targets, uploads, tokens);
