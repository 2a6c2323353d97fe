//! The schema model: field types, class schemas and their JSON form as `/schemas` shows it.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value, json};

use crate::error::{ErrorCode, ParseError, perr};

/// The type of a field, as Parse names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text.
    String,
    /// A JSON number.
    Number,
    /// true or false.
    Boolean,
    /// `{"__type":"Date","iso":…}`.
    Date,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// A reference to one object of the named class.
    Pointer(String),
    /// A many-to-many link to objects of the named class, kept outside the document.
    Relation(String),
    /// `{"__type":"File","name":…,"url":…}`.
    File,
    /// `{"__type":"GeoPoint",…}`.
    GeoPoint,
    /// `{"__type":"Polygon","coordinates":[[lat,lng],…]}`.
    Polygon,
    /// `{"__type":"Bytes","base64":…}`.
    Bytes,
    /// The access control list.
    Acl,
}

impl FieldType {
    /// The `type` name used in schema JSON.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "String",
            FieldType::Number => "Number",
            FieldType::Boolean => "Boolean",
            FieldType::Date => "Date",
            FieldType::Object => "Object",
            FieldType::Array => "Array",
            FieldType::Pointer(_) => "Pointer",
            FieldType::Relation(_) => "Relation",
            FieldType::File => "File",
            FieldType::GeoPoint => "GeoPoint",
            FieldType::Polygon => "Polygon",
            FieldType::Bytes => "Bytes",
            FieldType::Acl => "ACL",
        }
    }

    /// The class a Pointer or Relation refers to.
    pub fn target_class(&self) -> Option<&str> {
        match self {
            FieldType::Pointer(t) | FieldType::Relation(t) => Some(t),
            _ => None,
        }
    }

    /// Reads `{"type":"Pointer","targetClass":"_User"}`.
    pub fn from_json(v: &Value) -> Result<FieldType, ParseError> {
        let ty = v.get("type").and_then(Value::as_str).ok_or_else(|| {
            perr(
                ErrorCode::InvalidJson,
                "invalid field type: a field definition needs a \"type\"",
            )
        })?;
        let target = || -> Result<String, ParseError> {
            v.get("targetClass")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    perr(
                        ErrorCode::MissingRequiredField,
                        format!("type {ty} needs a class name"),
                    )
                })
        };
        Ok(match ty {
            "String" => FieldType::String,
            "Number" => FieldType::Number,
            "Boolean" => FieldType::Boolean,
            "Date" => FieldType::Date,
            "Object" => FieldType::Object,
            "Array" => FieldType::Array,
            "Pointer" => FieldType::Pointer(target()?),
            "Relation" => FieldType::Relation(target()?),
            "File" => FieldType::File,
            "GeoPoint" => FieldType::GeoPoint,
            "Polygon" => FieldType::Polygon,
            "Bytes" => FieldType::Bytes,
            "ACL" => FieldType::Acl,
            other => {
                return Err(perr(
                    ErrorCode::IncorrectType,
                    format!("invalid field type: {other}"),
                ));
            }
        })
    }
}

impl fmt::Display for FieldType {
    /// Parse's `typeToString`: `Pointer<_User>` for references, the bare name otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target_class() {
            Some(t) => write!(f, "{}<{}>", self.name(), t),
            None => f.write_str(self.name()),
        }
    }
}

/// One field of a class.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// The field's type.
    pub field_type: FieldType,
    /// Whether a create must set it.
    pub required: bool,
    /// The value a create gets when it does not set the field.
    pub default_value: Option<Value>,
}

impl FieldDef {
    /// A field of this type with no options.
    pub fn of(field_type: FieldType) -> Self {
        Self {
            field_type,
            required: false,
            default_value: None,
        }
    }

    /// The schema JSON for this field.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), json!(self.field_type.name()));
        if let Some(t) = self.field_type.target_class() {
            o.insert("targetClass".into(), json!(t));
        }
        if self.required {
            o.insert("required".into(), json!(true));
        }
        if let Some(d) = &self.default_value {
            o.insert("defaultValue".into(), d.clone());
        }
        Value::Object(o)
    }

    /// Reads a field definition from schema JSON.
    pub fn from_json(v: &Value) -> Result<FieldDef, ParseError> {
        Ok(FieldDef {
            field_type: FieldType::from_json(v)?,
            required: v.get("required").and_then(Value::as_bool).unwrap_or(false),
            default_value: v.get("defaultValue").cloned(),
        })
    }
}

/// A class: its fields, class-level permissions and indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSchema {
    /// The class name.
    pub class_name: String,
    /// Fields the class's objects may have, including the default ones.
    pub fields: BTreeMap<String, FieldDef>,
    /// Class-level permissions, in Parse's JSON form.
    pub clp: Value,
    /// Named indexes: name → `{field: 1 | -1}`.
    pub indexes: BTreeMap<String, Map<String, Value>>,
}

impl ClassSchema {
    /// A new class with the default fields (and a system class's own) and open permissions.
    pub fn new(class_name: &str) -> Self {
        let mut fields = BTreeMap::new();
        for (name, ty) in default_fields(class_name) {
            fields.insert(name.to_owned(), FieldDef::of(ty));
        }
        Self {
            class_name: class_name.to_owned(),
            fields,
            clp: default_clp(),
            indexes: BTreeMap::new(),
        }
    }

    /// The type of a field, if the class has it.
    pub fn field_type(&self, name: &str) -> Option<&FieldType> {
        self.fields.get(name).map(|f| &f.field_type)
    }

    /// The schema JSON `/schemas` returns.
    pub fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, f)| (k.clone(), f.to_json()))
            .collect();
        let mut indexes: Map<String, Value> = Map::new();
        indexes.insert("_id_".into(), json!({"_id": 1}));
        for (name, keys) in &self.indexes {
            indexes.insert(name.clone(), Value::Object(keys.clone()));
        }
        json!({
            "className": self.class_name,
            "fields": fields,
            "classLevelPermissions": self.clp,
            "indexes": indexes,
        })
    }

    /// The stored form: the same JSON as `to_json`, read back by `from_stored`.
    pub fn from_stored(v: &Value) -> Result<ClassSchema, ParseError> {
        let bad = || {
            perr(
                ErrorCode::InternalServerError,
                "stored schema is unreadable",
            )
        };
        let class_name = v
            .get("className")
            .and_then(Value::as_str)
            .ok_or_else(bad)?
            .to_owned();
        let mut schema = ClassSchema::new(&class_name);
        if let Some(fields) = v.get("fields").and_then(Value::as_object) {
            for (k, f) in fields {
                schema.fields.insert(k.clone(), FieldDef::from_json(f)?);
            }
        }
        if let Some(clp) = v.get("classLevelPermissions") {
            schema.clp = clp.clone();
        }
        if let Some(ix) = v.get("indexes").and_then(Value::as_object) {
            for (name, keys) in ix {
                if name == "_id_" {
                    continue;
                }
                if let Some(keys) = keys.as_object() {
                    schema.indexes.insert(name.clone(), keys.clone());
                }
            }
        }
        Ok(schema)
    }
}

/// The class-level permissions of a new class: everything open to everyone.
pub fn default_clp() -> Value {
    json!({
        "ACL": {"*": {"read": true, "write": true}},
        "find": {"*": true}, "count": {"*": true}, "get": {"*": true}, "create": {"*": true},
        "update": {"*": true}, "delete": {"*": true}, "addField": {"*": true},
        "protectedFields": {"*": []}
    })
}

/// The fields every object of `class_name` has from the start.
pub fn default_fields(class_name: &str) -> Vec<(&'static str, FieldType)> {
    let mut f = vec![
        ("objectId", FieldType::String),
        ("createdAt", FieldType::Date),
        ("updatedAt", FieldType::Date),
        ("ACL", FieldType::Acl),
    ];
    let s = |n: &'static str| (n, FieldType::String);
    match class_name {
        "_User" => f.extend([
            s("username"),
            s("password"),
            s("email"),
            ("emailVerified", FieldType::Boolean),
            ("authData", FieldType::Object),
        ]),
        "_Role" => f.extend([
            s("name"),
            ("users", FieldType::Relation("_User".into())),
            ("roles", FieldType::Relation("_Role".into())),
        ]),
        "_Session" => f.extend([
            ("user", FieldType::Pointer("_User".into())),
            s("installationId"),
            s("sessionToken"),
            ("expiresAt", FieldType::Date),
            ("createdWith", FieldType::Object),
        ]),
        "_Installation" => f.extend([
            s("installationId"),
            s("deviceToken"),
            ("channels", FieldType::Array),
            s("deviceType"),
            s("pushType"),
            s("GCMSenderId"),
            s("timeZone"),
            s("localeIdentifier"),
            ("badge", FieldType::Number),
            s("appVersion"),
            s("appName"),
            s("appIdentifier"),
            s("parseVersion"),
        ]),
        _ => {}
    }
    f
}

/// Every class's schema, by class name: a snapshot handed to the store so sub-queries on other
/// classes know those classes' field types.
pub type SchemaMap = std::collections::HashMap<String, std::sync::Arc<ClassSchema>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_json_round_trips() {
        let mut s = ClassSchema::new("GameScore");
        s.fields.insert(
            "owner".into(),
            FieldDef::of(FieldType::Pointer("_User".into())),
        );
        let back = ClassSchema::from_stored(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            s.to_json()["fields"]["owner"],
            json!({"type":"Pointer","targetClass":"_User"})
        );
    }

    #[test]
    fn type_strings_match_parse() {
        assert_eq!(
            FieldType::Pointer("_User".into()).to_string(),
            "Pointer<_User>"
        );
        assert_eq!(FieldType::Number.to_string(), "Number");
    }
}
