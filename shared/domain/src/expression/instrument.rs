//! Puts the budget's probes into a parsed program (see [`super::budget`]).
//!
//! - a call (an operator or a function) is wrapped: `@lading_result(a + b)` charges the
//!   value `a + b` made;
//! - an element of a list or map literal is wrapped: `[@lading_copy(x)]` charges the copy
//!   the literal makes of `x`;
//! - every iteration of a comprehension passes a probe: `map` and `filter` on the item
//!   they collect (and on `filter`'s condition), `all`, `exists` and `exists_one` on their
//!   loop condition; the shapes CEL's interpreter recognizes (and runs in place) are
//!   kept;
//! - `matches` becomes Lading's, which bounds the size of its pattern.
//!
//! The logical operators `&&`, `||` and `? :` are left as they are: they create nothing,
//! and `all`/`exists` recognize their loop step by them.

use cel::IdedExpr;
use cel::common::ast::{CallExpr, ComprehensionExpr, EntryExpr, Expr, ListExpr};

/// Charges the value a call made.
pub(super) const RESULT: &str = "@lading_result";
/// Charges a value about to be copied.
pub(super) const COPY: &str = "@lading_copy";
/// Checks the time, once per iteration.
pub(super) const TICK: &str = "@lading_tick";
/// `matches` with a bounded pattern.
pub(super) const MATCHES: &str = "@lading_matches";

const LOGICAL_AND: &str = "_&&_";
const LOGICAL_OR: &str = "_||_";
const CONDITIONAL: &str = "_?_:_";
const ADD: &str = "_+_";

/// `expr` with probes.
pub(super) fn instrument(expr: IdedExpr) -> IdedExpr {
    let mut ids = Ids(max_id(&expr) + 1);
    rewrite(expr, &mut ids)
}

/// Fresh node ids, above the parser's.
struct Ids(u64);

impl Ids {
    fn wrap(&mut self, probe: &str, expr: IdedExpr) -> IdedExpr {
        self.0 += 1;
        IdedExpr {
            id: self.0,
            expr: Expr::Call(CallExpr { func_name: probe.to_owned(), target: None, args: vec![expr] }),
        }
    }
}

fn max_id(expr: &IdedExpr) -> u64 {
    let mut max = 0;
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        max = max.max(expr.id);
        super::shape::push_children(expr, &mut pending);
    }
    max
}

fn rewrite(expr: IdedExpr, ids: &mut Ids) -> IdedExpr {
    let IdedExpr { id, expr } = expr;
    let expr = match expr {
        Expr::Select(mut select) => {
            select.operand = Box::new(rewrite(*select.operand, ids));
            Expr::Select(select)
        }
        Expr::Call(call) => return rewrite_call(id, call, ids),
        Expr::List(list) => Expr::List(copied(list, ids)),
        Expr::Map(mut map) => {
            for entry in &mut map.entries {
                copy_entry(&mut entry.expr, ids);
            }
            Expr::Map(map)
        }
        Expr::Struct(mut structure) => {
            for entry in &mut structure.entries {
                copy_entry(&mut entry.expr, ids);
            }
            Expr::Struct(structure)
        }
        Expr::Comprehension(comprehension) => Expr::Comprehension(Box::new(rewrite_comprehension(*comprehension, ids))),
        other @ (Expr::Literal(_) | Expr::Ident(_) | Expr::Unspecified) => other,
    };
    IdedExpr { id, expr }
}

fn rewrite_call(id: u64, mut call: CallExpr, ids: &mut Ids) -> IdedExpr {
    call.target = call.target.map(|target| Box::new(rewrite(*target, ids)));
    call.args = call.args.into_iter().map(|arg| rewrite(arg, ids)).collect();
    if call.func_name == "matches" {
        call.func_name = MATCHES.to_owned();
        return IdedExpr { id, expr: Expr::Call(call) };
    }
    let unwrapped = matches!(call.func_name.as_str(), LOGICAL_AND | LOGICAL_OR | CONDITIONAL);
    let node = IdedExpr { id, expr: Expr::Call(call) };
    if unwrapped { node } else { ids.wrap(RESULT, node) }
}

/// A list literal whose elements are charged as they are copied in.
fn copied(mut list: ListExpr, ids: &mut Ids) -> ListExpr {
    list.elements = list.elements.into_iter().map(|e| copy(e, ids)).collect();
    list
}

fn copy(expr: IdedExpr, ids: &mut Ids) -> IdedExpr {
    let expr = rewrite(expr, ids);
    ids.wrap(COPY, expr)
}

fn copy_entry(entry: &mut EntryExpr, ids: &mut Ids) {
    match entry {
        EntryExpr::MapEntry(entry) => {
            entry.key = copy(std::mem::take(&mut entry.key), ids);
            entry.value = copy(std::mem::take(&mut entry.value), ids);
        }
        EntryExpr::StructField(field) => field.value = copy(std::mem::take(&mut field.value), ids),
    }
}

fn rewrite_comprehension(mut c: ComprehensionExpr, ids: &mut Ids) -> ComprehensionExpr {
    c.iter_range = rewrite(c.iter_range, ids);
    c.accu_init = rewrite(c.accu_init, ids);
    c.result = rewrite(c.result, ids);
    match append_shape(&c) {
        Some(guarded) => {
            // `map`/`filter`: CEL appends to its result in place when the step keeps this
            // shape, so the probes go inside it.
            let step = std::mem::take(&mut c.loop_step);
            c.loop_step = match (guarded, step.expr) {
                (true, Expr::Call(mut conditional)) => {
                    let guard = std::mem::take(&mut conditional.args[0]);
                    let guard = rewrite(guard, ids);
                    conditional.args[0] = ids.wrap(TICK, guard);
                    let append = std::mem::take(&mut conditional.args[1]);
                    conditional.args[1] = copy_appended(append, ids);
                    IdedExpr { id: step.id, expr: Expr::Call(conditional) }
                }
                (_, expr) => copy_appended(IdedExpr { id: step.id, expr }, ids),
            };
        }
        None => {
            let condition = std::mem::take(&mut c.loop_cond);
            let condition = rewrite(condition, ids);
            c.loop_cond = ids.wrap(TICK, condition);
            c.loop_step = rewrite(std::mem::take(&mut c.loop_step), ids);
        }
    }
    c
}

/// `@result + [item]` with the item charged as it is appended.
fn copy_appended(append: IdedExpr, ids: &mut Ids) -> IdedExpr {
    let IdedExpr { id, expr } = append;
    let Expr::Call(mut call) = expr else { return IdedExpr { id, expr } };
    if let Some(IdedExpr { expr: Expr::List(list), .. }) = call.args.get_mut(1) {
        *list = copied(std::mem::take(list), ids);
    }
    IdedExpr { id, expr: Expr::Call(call) }
}

/// Whether the comprehension's step appends to its result, as `map` and `filter` do:
/// `@result + [item]`, or `cond ? @result + [item] : @result` (`Some(true)`, guarded).
fn append_shape(c: &ComprehensionExpr) -> Option<bool> {
    let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(name) if *name == c.accu_var);
    let appends = |e: &IdedExpr| match &e.expr {
        Expr::Call(call) if call.func_name == ADD && call.target.is_none() => {
            matches!(call.args.as_slice(), [accu, IdedExpr { expr: Expr::List(_), .. }] if is_accu(accu))
        }
        _ => false,
    };
    if !is_accu(&c.result) || !matches!(c.loop_cond.expr, Expr::Literal(_)) {
        return None;
    }
    match &c.loop_step.expr {
        Expr::Call(call) if call.func_name == CONDITIONAL && call.target.is_none() => match call.args.as_slice() {
            [_, step, otherwise] if is_accu(otherwise) && appends(step) => Some(true),
            _ => None,
        },
        _ if appends(&c.loop_step) => Some(false),
        _ => None,
    }
}
