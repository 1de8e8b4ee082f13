import type { ExprNode } from './casbin-internals.ts'

function children(node: ExprNode): ExprNode[] {
  switch (node.type) {
    case 'BinaryExpression':
    case 'LogicalExpression':
      return [node.left, node.right]
    case 'UnaryExpression':
      return [node.argument]
    case 'CallExpression':
      return [node.callee, ...node.arguments]
    case 'MemberExpression':
      return [node.object, node.property]
    case 'ConditionalExpression':
      return [node.test, node.consequent, node.alternate]
    case 'ArrayExpression':
      return node.elements
    case 'Compound':
      return node.body
    default:
      return []
  }
}

export interface NamedCall {
  name: string
  args: ExprNode[]
}

/** Every call of a plain function name (f(...), not obj.f(...)) anywhere in an expression. */
export function namedCalls(root: ExprNode): NamedCall[] {
  const out: NamedCall[] = []
  const stack = [root]
  for (let node = stack.pop(); node; node = stack.pop()) {
    if (node.type === 'CallExpression' && node.callee.type === 'Identifier')
      out.push({ name: node.callee.name, args: node.arguments })
    stack.push(...children(node))
  }
  return out
}
