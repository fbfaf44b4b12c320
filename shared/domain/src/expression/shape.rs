//! What a parsed program is made of, checked before it may run: how deep it nests, how
//! many comprehensions run inside one another, and which variables and functions it
//! names (with where, for errors).

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr, LiteralValue, SourceInfo};

use super::error::{ExpressionError, Position};
use super::limits::{MAX_DEPTH, MAX_NESTED_COMPREHENSIONS};

/// Something a program refers to by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A variable, and the fields selected on it by name, root first: `outputs.clone.commit`
    /// and `outputs['clone'].commit` are both `["outputs", "clone", "commit"]`. The path
    /// stops where a field is chosen at run time (`outputs[vars.step]`).
    Variable { path: Vec<String>, position: Position },
    /// A function or method, by its name (`size`, `commitFrom`, `optional.of`).
    Function { name: String, position: Position },
}

/// Adds the direct children of `expr` to `pending`.
pub(super) fn push_children<'e>(expr: &'e IdedExpr, pending: &mut Vec<&'e IdedExpr>) {
    match &expr.expr {
        Expr::Call(call) => {
            pending.extend(call.target.as_deref());
            pending.extend(&call.args);
        }
        Expr::Comprehension(c) => pending.extend([&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result]),
        Expr::List(list) => pending.extend(&list.elements),
        Expr::Map(map) => {
            for entry in &map.entries {
                push_entry(&entry.expr, pending);
            }
        }
        Expr::Struct(structure) => {
            for entry in &structure.entries {
                push_entry(&entry.expr, pending);
            }
        }
        Expr::Select(select) => pending.push(&select.operand),
        Expr::Literal(_) | Expr::Ident(_) | Expr::Unspecified => {}
    }
}

fn push_entry<'e>(entry: &'e EntryExpr, pending: &mut Vec<&'e IdedExpr>) {
    match entry {
        EntryExpr::MapEntry(entry) => pending.extend([&entry.key, &entry.value]),
        EntryExpr::StructField(field) => pending.push(&field.value),
    }
}

/// Where node `id` was written.
pub(super) fn position(info: &SourceInfo, source: &str, id: u64) -> Position {
    let offset = info.offset_for(id).map_or(0, |(start, _)| start as usize);
    Position::of_offset(source, offset)
}

/// Refuses programs deeper than [`MAX_DEPTH`], with more than
/// [`MAX_NESTED_COMPREHENSIONS`] comprehensions inside one another, or that build
/// messages (`Type{field: …}`, which Lading has none of). Iterative: the program may be
/// thousands of levels deep.
pub(super) fn check(expr: &IdedExpr, info: &SourceInfo, source: &str) -> Result<(), ExpressionError> {
    let mut pending = vec![(expr, 1usize, 0usize)];
    while let Some((expr, depth, loops)) = pending.pop() {
        let at = || position(info, source, expr.id);
        if depth > MAX_DEPTH {
            return Err(ExpressionError::TooDeep { depth, max: MAX_DEPTH, position: at() });
        }
        match &expr.expr {
            Expr::Comprehension(c) => {
                if loops + 1 > MAX_NESTED_COMPREHENSIONS {
                    return Err(ExpressionError::NestedComprehensions {
                        depth: loops + 1,
                        max: MAX_NESTED_COMPREHENSIONS,
                        position: at(),
                    });
                }
                pending.extend([(&c.iter_range, depth + 1, loops), (&c.accu_init, depth + 1, loops)]);
                pending.extend([&c.loop_cond, &c.loop_step, &c.result].map(|e| (e, depth + 1, loops + 1)));
            }
            Expr::Struct(structure) => {
                return Err(ExpressionError::Unsupported {
                    what: format!("building a message ({}{{…}})", structure.type_name),
                    position: at(),
                });
            }
            Expr::Unspecified => {
                return Err(ExpressionError::Internal("the parser left an empty node".to_owned()));
            }
            _ => {
                let mut children = Vec::new();
                push_children(expr, &mut children);
                pending.extend(children.into_iter().map(|child| (child, depth + 1, loops)));
            }
        }
    }
    Ok(())
}

/// The variables and functions `expr` refers to, outside the names its comprehensions
/// bind. `is_function` tells a qualified function name (`optional.of`) from a method
/// called on a variable. Recursive: call it on a checked program only.
pub(super) fn references(
    expr: &IdedExpr,
    info: &SourceInfo,
    source: &str,
    is_function: &dyn Fn(&str) -> bool,
) -> Vec<Reference> {
    let mut walk = Walk { info, source, is_function, bound: Vec::new(), found: Vec::new() };
    walk.visit(expr);
    walk.found
}

struct Walk<'a> {
    info: &'a SourceInfo,
    source: &'a str,
    is_function: &'a dyn Fn(&str) -> bool,
    bound: Vec<String>,
    found: Vec<Reference>,
}

impl Walk<'_> {
    fn visit(&mut self, expr: &IdedExpr) {
        if let Some(path) = name_path(expr) {
            if !self.bound.contains(&path[0]) {
                let position = position(self.info, self.source, root_id(expr));
                self.found.push(Reference::Variable { path, position });
            }
            return;
        }
        match &expr.expr {
            Expr::Call(call) if is_operator(&call.func_name) => {
                let mut children = Vec::new();
                push_children(expr, &mut children);
                children.into_iter().for_each(|child| self.visit(child));
            }
            Expr::Call(call) => {
                let qualified = call
                    .target
                    .as_deref()
                    .and_then(qualified_name)
                    .map(|target| format!("{target}.{}", call.func_name))
                    .filter(|name| (self.is_function)(name));
                let name = qualified.clone().unwrap_or_else(|| call.func_name.clone());
                let position = self.function_position(expr.id, &call.func_name);
                self.found.push(Reference::Function { name, position });
                if qualified.is_none()
                    && let Some(target) = &call.target
                {
                    self.visit(target);
                }
                call.args.iter().for_each(|arg| self.visit(arg));
            }
            Expr::Comprehension(c) => {
                self.visit(&c.iter_range);
                self.visit(&c.accu_init);
                let names = [Some(&c.iter_var), c.iter_var2.as_ref(), Some(&c.accu_var)];
                let bound = names.into_iter().flatten().cloned().collect::<Vec<_>>();
                let before = self.bound.len();
                self.bound.extend(bound);
                self.visit(&c.loop_cond);
                self.visit(&c.loop_step);
                self.visit(&c.result);
                self.bound.truncate(before);
            }
            _ => {
                let mut children = Vec::new();
                push_children(expr, &mut children);
                children.into_iter().for_each(|child| self.visit(child));
            }
        }
    }

    /// Where a call's function name was written (the parser places calls at their `(`).
    fn function_position(&self, id: u64, name: &str) -> Position {
        let offset = self.info.offset_for(id).map_or(0, |(start, _)| start as usize);
        let before = self.source.get(..offset).unwrap_or_default().trim_end();
        let start = if before.ends_with(name) { before.len() - name.len() } else { offset };
        Position::of_offset(self.source, start)
    }
}

/// `_+_`, `_[_]`, `!_`, `@in`: operators, not functions users name.
fn is_operator(name: &str) -> bool {
    name.starts_with('@') || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

/// `a`, `a.b.c`, `a['b'].c`: a variable and fields chosen by name.
fn name_path(expr: &IdedExpr) -> Option<Vec<String>> {
    match &expr.expr {
        Expr::Ident(name) => Some(vec![name.clone()]),
        Expr::Select(select) if !select.test => {
            let mut path = name_path(&select.operand)?;
            path.push(select.field.clone());
            Some(path)
        }
        Expr::Call(call) if call.func_name == "_[_]" && call.target.is_none() => match call.args.as_slice() {
            [operand, IdedExpr { expr: Expr::Literal(LiteralValue::String(key)), .. }] => {
                let mut path = name_path(operand)?;
                path.push(key.inner().to_owned());
                Some(path)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The node of the variable a name path starts with.
fn root_id(expr: &IdedExpr) -> u64 {
    match &expr.expr {
        Expr::Select(select) => root_id(&select.operand),
        Expr::Call(call) => call.args.first().map_or(expr.id, root_id),
        _ => expr.id,
    }
}

/// `a.b.c` as a dotted name, when the expression is only that.
fn qualified_name(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => Some(format!("{}.{}", qualified_name(&select.operand)?, select.field)),
        _ => None,
    }
}
