package dev.spillway.policies.cel;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableCollection;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelIssue;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationResult;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.ast.CelReference;
import dev.cel.common.navigation.CelNavigableAst;
import dev.cel.common.navigation.CelNavigableExpr;
import dev.cel.common.types.CelKind;
import dev.cel.common.types.CelType;
import dev.cel.common.types.CelTypeProvider;
import dev.cel.common.types.SimpleType;
import dev.cel.common.types.StructType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.extensions.CelExtensions;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import dev.cel.validator.CelValidator;
import dev.cel.validator.CelValidatorFactory;
import dev.cel.validator.validators.AstDepthLimitValidator;
import dev.spillway.policies.document.Expression;
import dev.spillway.policies.document.Problem;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Compiles policy expressions: parse, type-check against typed variables, hold to {@link CelBounds},
 * build the program. A refusal comes back as problems naming the file, line and column of the
 * offending part of the expression (CEL's position inside the expression mapped into the YAML file).
 *
 * <p>Thread-safe; compilers are built once per variable scope and result kind.
 */
public final class CelCompilation {

    /** Variables visible to a kind of expression, by name. */
    public record Scope(String name, Map<String, CelType> variables) {
        public Scope {
            variables = Map.copyOf(variables);
        }
    }

    /** Either a compiled expression or why it was refused. */
    public record Outcome(CompiledExpression compiled, List<Problem> problems) {
        public Outcome {
            problems = List.copyOf(problems);
        }

        public boolean ok() {
            return compiled != null;
        }
    }

    private final CelBounds bounds;
    private final CelOptions options;
    private final CelTypeProvider types;
    private final CelRuntime runtime;
    private final Map<String, CelCompiler> compilers = new ConcurrentHashMap<>();
    private final Map<String, CelValidator> validators = new ConcurrentHashMap<>();

    public CelCompilation(CelBounds bounds, List<StructType> structTypes) {
        this.bounds = bounds;
        this.options = CelOptions.current()
                .maxExpressionCodePointSize(bounds.maxCodePoints())
                .maxParseRecursionDepth(bounds.maxParseDepth())
                .comprehensionMaxIterations(bounds.maxIterations())
                .enableOptionalSyntax(true) // node.labels.?role.orValue(""): missing labels without errors
                .build();
        Map<String, CelType> byName = new LinkedHashMap<>();
        structTypes.forEach(t -> byName.put(t.name(), t));
        this.types = new CelTypeProvider() {
            @Override
            public ImmutableCollection<CelType> types() {
                return ImmutableList.copyOf(byName.values());
            }

            @Override
            public Optional<CelType> findType(String typeName) {
                return Optional.ofNullable(byName.get(typeName));
            }
        };
        // The interpreter reads struct-typed variables as maps (see StructDecl), so it needs no type provider.
        this.runtime = CelRuntimeFactory.standardCelRuntimeBuilder().setOptions(options)
                .addLibraries(CelExtensions.optional())
                .build();
    }

    public CelBounds bounds() {
        return bounds;
    }

    public Outcome compile(Expression expression, Scope scope, ResultKind result) {
        String text = expression.text();
        int codePoints = text.codePointCount(0, text.length());
        if (codePoints > bounds.maxCodePoints()) {
            return refused(Problem.at(expression.start(), "expression too long: " + codePoints + " characters, at most " + bounds.maxCodePoints()));
        }
        CelCompiler compiler = compiler(scope, result);
        CelValidationResult compiled = compiler.compile(text, expression.start().file());
        if (compiled.hasError()) return refused(problems(expression, compiled.getErrors(), ""));
        CelAbstractSyntaxTree ast;
        try {
            ast = compiled.getAst();
        } catch (dev.cel.common.CelValidationException e) {
            return refused(problems(expression, e.getErrors(), ""));
        }
        CelValidationResult validated = validators.computeIfAbsent(scope.name() + "/" + result,
                k -> CelValidatorFactory.standardCelValidatorBuilder(compiler, runtime)
                        .addAstValidators(AstDepthLimitValidator.newInstance(bounds.maxAstDepth()))
                        .build()).validate(ast);
        if (validated.hasError()) return refused(problems(expression, validated.getErrors(), "too complex: "));
        if (result == ResultKind.NUMBER) {
            CelKind kind = ast.getResultType().kind();
            if (kind != CelKind.INT && kind != CelKind.DOUBLE && kind != CelKind.UINT) {
                return refused(Problem.at(expression.start(), "expected an expression of type int or double, found " + ast.getResultType().name()));
            }
        }
        CelNavigableExpr root = CelNavigableAst.fromAst(ast).getRoot();
        List<Problem> nesting = new ArrayList<>();
        checkNesting(root, 0, expression, ast, nesting);
        if (!nesting.isEmpty()) return refused(nesting.get(0));
        try {
            return new Outcome(program(expression, ast, scope), List.of());
        } catch (CelEvaluationException e) {
            return refused(Problem.at(expression.start(), "cannot build a program: " + e.getMessage()));
        }
    }

    /** The program of a checked tree: the whole expression, or a part of it (same source, same node ids, so errors point into the file). */
    private CompiledExpression program(Expression expression, CelAbstractSyntaxTree ast, Scope scope) throws CelEvaluationException {
        Set<String> fields = new HashSet<>();
        Set<String> idents = new HashSet<>();
        CelNavigableExpr.fromExpr(ast.getExpr()).allNodes().forEach(n -> {
            CelExpr e = n.expr();
            switch (e.getKind()) {
                case SELECT -> fields.add(e.select().field());
                case IDENT -> idents.add(e.ident().name());
                default -> { }
            }
        });
        idents.retainAll(scope.variables().keySet());
        return new CompiledExpression(expression, runtime.createProgram(ast), fields, idents, variable -> split(expression, ast, scope, variable));
    }

    /**
     * A condition {@code a && b && c} as the conjunction of the parts that do not refer to
     * {@code variable} and the conjunction of those that do; null when it is not a conjunction
     * with parts of both kinds. Where the first part is true, the condition is the second part.
     */
    private CompiledExpression.Conjuncts split(Expression expression, CelAbstractSyntaxTree ast, Scope scope, String variable) {
        List<CelExpr> parts = new ArrayList<>();
        conjuncts(ast.getExpr(), parts);
        List<CelExpr> without = new ArrayList<>();
        List<CelExpr> with = new ArrayList<>();
        for (CelExpr part : parts) {
            boolean refers = CelNavigableExpr.fromExpr(part).allNodes()
                    .anyMatch(n -> n.getKind() == CelExpr.ExprKind.Kind.IDENT && n.expr().ident().name().equals(variable));
            (refers ? with : without).add(part);
        }
        if (without.isEmpty() || with.isEmpty()) return null;
        long[] nextId = {CelNavigableExpr.fromExpr(ast.getExpr()).allNodes().mapToLong(n -> n.id()).max().orElse(0) + 1};
        Map<Long, CelReference> references = new HashMap<>(ast.getReferenceMap());
        Map<Long, CelType> types = new HashMap<>(ast.getTypeMap());
        CelReference and = references.get(ast.getExpr().id());
        try {
            return new CompiledExpression.Conjuncts(
                    program(expression, conjunction(without, ast, references, types, and, nextId), scope),
                    program(expression, conjunction(with, ast, references, types, and, nextId), scope));
        } catch (CelEvaluationException e) {
            return null; // the whole condition still evaluates as it is
        }
    }

    private static void conjuncts(CelExpr e, List<CelExpr> out) {
        if (e.getKind() == CelExpr.ExprKind.Kind.CALL && e.call().target().isEmpty() && e.call().function().equals("_&&_")) {
            e.call().args().forEach(a -> conjuncts(a, out));
        } else {
            out.add(e);
        }
    }

    private static CelAbstractSyntaxTree conjunction(List<CelExpr> parts, CelAbstractSyntaxTree ast, Map<Long, CelReference> references,
                                                     Map<Long, CelType> types, CelReference and, long[] nextId) {
        CelExpr e = parts.get(0);
        for (int i = 1; i < parts.size(); i++) {
            long id = nextId[0]++;
            e = CelExpr.ofCall(id, Optional.empty(), "_&&_", ImmutableList.of(e, parts.get(i)));
            types.put(id, SimpleType.BOOL);
            if (and != null) references.put(id, and);
        }
        return CelAbstractSyntaxTree.newCheckedAst(e, ast.getSource(), references, types);
    }

    private void checkNesting(CelNavigableExpr n, int depth, Expression expression, CelAbstractSyntaxTree ast, List<Problem> out) {
        int d = depth;
        if (n.getKind() == CelExpr.ExprKind.Kind.COMPREHENSION) {
            d++;
            if (d > bounds.maxNestedComprehensions() && out.isEmpty()) {
                Integer offset = ast.getSource().getPositionsMap().get(n.id());
                out.add(Problem.at(offset == null ? expression.start() : expression.locateOffset(offset),
                        "too complex: comprehensions nested " + d + " deep, at most " + bounds.maxNestedComprehensions()));
                return;
            }
        }
        int next = d;
        n.children().forEach(c -> checkNesting(c, next, expression, ast, out));
    }

    private CelCompiler compiler(Scope scope, ResultKind result) {
        return compilers.computeIfAbsent(scope.name() + "/" + result, k -> {
            var builder = CelCompilerFactory.standardCelCompilerBuilder()
                    .setOptions(options)
                    .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
                    .setTypeProvider(types)
                    .addLibraries(CelExtensions.optional())
                    .setResultType(switch (result) {
                        case BOOL -> SimpleType.BOOL;
                        case STRING -> SimpleType.STRING;
                        case NUMBER -> SimpleType.DYN; // int or double, checked after compilation
                    });
            scope.variables().forEach(builder::addVar);
            return builder.build();
        });
    }

    private static List<Problem> problems(Expression expression, List<CelIssue> issues, String prefix) {
        List<Problem> out = new ArrayList<>();
        for (CelIssue issue : issues) {
            var loc = issue.getSourceLocation();
            var where = loc.getLine() > 0 ? expression.locate(loc.getLine(), loc.getColumn()) : expression.start();
            out.add(Problem.at(where, prefix + issue.getMessage()));
        }
        return out;
    }

    private static Outcome refused(Problem p) {
        return new Outcome(null, List.of(p));
    }

    private static Outcome refused(List<Problem> p) {
        return new Outcome(null, p);
    }
}
