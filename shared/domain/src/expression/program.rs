//! A program: an expression parsed, checked, and instrumented with the probes of its
//! budget.

use cel::{Context, IdedExpr, ParseErrors};

use super::error::{ExpressionError, Position};
use super::limits::{MAX_PARSER_NESTING, MAX_SOURCE_BYTES};
use super::shape::{self, Reference};
use super::{instrument, on_expression_stack, standard};

/// A checked expression, ready to evaluate.
#[derive(Debug)]
pub struct Program {
    source: String,
    pub(super) expr: IdedExpr,
    references: Vec<Reference>,
}

impl Program {
    /// Parses `source` and checks its shape: size, syntax, depth, nested comprehensions.
    pub fn compile(source: &str) -> Result<Program, ExpressionError> {
        if source.trim().is_empty() {
            return Err(ExpressionError::Empty);
        }
        if source.len() > MAX_SOURCE_BYTES {
            return Err(ExpressionError::TooLong { length: source.len(), max: MAX_SOURCE_BYTES });
        }
        on_expression_stack(|| compile_here(source))?
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables and functions the program names.
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// Refuses a function that is neither CEL's nor one of `functions`, and a variable
    /// that is not one of `variables` (type names such as `int` are CEL's).
    pub fn check_names(&self, functions: &[&str], variables: &[&str]) -> Result<(), ExpressionError> {
        let env = standard();
        for reference in &self.references {
            match reference {
                Reference::Function { name, position } => {
                    if !functions.contains(&name.as_str()) && !is_standard_function(name) {
                        return Err(ExpressionError::UnknownFunction { name: name.clone(), position: *position });
                    }
                }
                Reference::Variable { path, position } => {
                    let name = &path[0];
                    if !variables.contains(&name.as_str()) && env.types().find_type(name).is_none() {
                        let known = if variables.is_empty() { "none".to_owned() } else { variables.join(", ") };
                        return Err(ExpressionError::UnknownVariable {
                            name: name.clone(),
                            position: *position,
                            known,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether CEL's standard library declares a function (or method) named `name`.
pub fn is_standard_function(name: &str) -> bool {
    // A context refuses a function whose name the standard library already declares.
    Context::with_env(standard()).add_function(name, || true).is_err()
}

fn compile_here(source: &str) -> Result<Program, ExpressionError> {
    let parser = standard().parser().max_recursion_depth(MAX_PARSER_NESTING);
    let (expr, info) = parser.parse_with_source_info(source).map_err(syntax_error)?;
    shape::check(&expr, &info, source)?;
    let references = shape::references(&expr, &info, source, &is_standard_function);
    Ok(Program { source: source.to_owned(), expr: instrument::instrument(expr), references })
}

fn syntax_error(errors: ParseErrors) -> ExpressionError {
    let Some(first) = errors.errors.into_iter().next() else {
        return ExpressionError::Syntax { position: Position { line: 1, column: 1 }, message: "unknown".to_owned() };
    };
    if first.msg.contains("Recursion limit") {
        return ExpressionError::Syntax {
            position: Position { line: 1, column: 1 },
            message: format!("parentheses, brackets, calls or conditions nest more than {MAX_PARSER_NESTING} deep"),
        };
    }
    let message = first.msg.strip_prefix("Syntax error: ").unwrap_or(&first.msg).to_owned();
    let (line, column) = first.pos;
    ExpressionError::Syntax {
        position: Position { line: line.max(1) as usize, column: column.max(1) as usize },
        message,
    }
}
