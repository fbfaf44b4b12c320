//! CEL values measured and turned into JSON: how many bytes a value holds (to charge it
//! against a budget), and the JSON a result becomes.

use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelOptional, CelString, CelUInt,
};
use cel::common::value::Val;
use serde_json::{Map, Value};

use super::error::ExpressionError;

/// What a string, list or map costs beyond its contents (lengths, pointers, headers).
const HEADER: u64 = 24;
/// What a scalar or a pointer to an element costs.
const WORD: u64 = 8;

/// The bytes `value` holds, counted until they pass `cap` (then some number above `cap`
/// is returned, without looking further).
pub fn footprint(value: &dyn Val, cap: u64) -> u64 {
    let mut total = 0u64;
    let mut pending: Vec<&dyn Val> = vec![value];
    while let Some(value) = pending.pop() {
        let cost = if let Some(text) = value.downcast_ref::<CelString>() {
            HEADER + text.inner().len() as u64
        } else if let Some(bytes) = value.downcast_ref::<CelBytes>() {
            HEADER + bytes.inner().len() as u64
        } else if let Some(list) = value.downcast_ref::<CelList>() {
            let own = HEADER + WORD * list.inner().len() as u64;
            if total.saturating_add(own) <= cap {
                pending.extend(list.inner().iter().map(|item| item.as_ref()));
            }
            own
        } else if let Some(map) = value.downcast_ref::<CelMap>() {
            let own = HEADER * 2 + WORD * 4 * map.inner().len() as u64;
            if total.saturating_add(own) <= cap {
                for (key, item) in map.inner() {
                    pending.push(key.inner());
                    pending.push(item.as_ref());
                }
            }
            own
        } else if let Some(optional) = value.downcast_ref::<CelOptional>() {
            pending.extend(optional.inner());
            WORD
        } else {
            WORD * 2
        };
        total = total.saturating_add(cost);
        if total > cap {
            return total;
        }
    }
    total
}

/// The JSON `value` stands for; a value of a type JSON lacks (bytes, types, optionals,
/// durations) is refused.
pub fn to_json(value: &dyn Val) -> Result<Value, ExpressionError> {
    if value.downcast_ref::<CelNull>().is_some() {
        Ok(Value::Null)
    } else if let Some(b) = value.downcast_ref::<CelBool>() {
        Ok(Value::Bool(*b.inner()))
    } else if let Some(i) = value.downcast_ref::<CelInt>() {
        Ok(Value::from(*i.inner()))
    } else if let Some(u) = value.downcast_ref::<CelUInt>() {
        Ok(Value::from(*u.inner()))
    } else if let Some(f) = value.downcast_ref::<CelDouble>() {
        Ok(serde_json::Number::from_f64(*f.inner()).map_or(Value::Null, Value::Number))
    } else if let Some(text) = value.downcast_ref::<CelString>() {
        Ok(Value::String(text.inner().to_owned()))
    } else if let Some(list) = value.downcast_ref::<CelList>() {
        list.inner().iter().map(|item| to_json(item.as_ref())).collect::<Result<_, _>>().map(Value::Array)
    } else if let Some(map) = value.downcast_ref::<CelMap>() {
        let mut object = Map::new();
        for (key, item) in map.inner() {
            let key = match key {
                CelMapKey::String(s) => s.inner().to_owned(),
                CelMapKey::Int(i) => i.inner().to_string(),
                CelMapKey::UInt(u) => u.inner().to_string(),
                CelMapKey::Bool(b) => b.inner().to_string(),
            };
            object.insert(key, to_json(item.as_ref())?);
        }
        Ok(Value::Object(object))
    } else {
        Err(ExpressionError::Unusable(format!("a value of type {}", value.get_type().name())))
    }
}

/// The CEL type name of `value`, for errors.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}
