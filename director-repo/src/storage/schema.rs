//! The diesel schema of `migrations/`.

diesel::table! {
    vehicles (vin) {
        vin -> Text,
        primary_serial -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    ecus (serial) {
        serial -> Text,
        vin -> Text,
        hardware_id -> Text,
        public_key -> Text,
        key_id -> Text,
        is_primary -> SmallInt,
        last_counter -> Nullable<BigInt>,
        last_nonce -> Nullable<Text>,
    }
}

diesel::table! {
    manifests (id) {
        id -> Text,
        vin -> Text,
        received_at -> Text,
        body -> Nullable<Text>,
        bytes_hex -> Nullable<Text>,
        outcome -> Text,
        attacks -> Text,
    }
}

diesel::table! {
    installed_images (ecu_serial) {
        ecu_serial -> Text,
        vin -> Text,
        filepath -> Text,
        length -> BigInt,
        hashes -> Text,
        reported_at -> Text,
    }
}

diesel::table! {
    assignments (id) {
        id -> Text,
        vin -> Text,
        ecu_serial -> Text,
        target_path -> Text,
        target_json -> Text,
        status -> Text,
        created_at -> Text,
        updated_at -> Text,
        campaign_id -> Nullable<Text>,
        issued_version -> Nullable<BigInt>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    director_roots (version) {
        version -> BigInt,
        bytes_hex -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    vehicle_metadata (vin, role, version) {
        vin -> Text,
        role -> Text,
        version -> BigInt,
        bytes_hex -> Text,
        expires -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        name -> Text,
        target_path -> Text,
        hardware_id -> Text,
        target_json -> Text,
        first_batch -> BigInt,
        max_failure_percent -> BigInt,
        state -> Text,
        stage -> BigInt,
        row_version -> BigInt,
        reason -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    campaign_vehicles (campaign_id, vin) {
        campaign_id -> Text,
        vin -> Text,
        batch -> BigInt,
        position -> BigInt,
    }
}

diesel::table! {
    vehicle_holds (vin) {
        vin -> Text,
        reason -> Text,
        manifest_id -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    provisioning_allowances (vin) {
        vin -> Text,
        allowed_at -> Text,
    }
}

diesel::table! {
    provisionings (id) {
        id -> Text,
        vin -> Text,
        provisioned_at -> Text,
        outcome -> Text,
        certificate_sha256 -> Text,
    }
}

diesel::table! {
    manifest_rejections (vin, code) {
        vin -> Text,
        code -> Text,
        total -> BigInt,
        last_at -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    vehicles,
    ecus,
    manifests,
    installed_images,
    assignments,
    director_roots,
    vehicle_metadata,
    campaigns,
    campaign_vehicles,
    vehicle_holds,
    provisioning_allowances,
    provisionings,
    manifest_rejections,
);
