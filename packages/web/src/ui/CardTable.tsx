/**
 * The head of a `.card-table`: a table that turns into a list of cards on a phone. Its rows are
 * then display:flex, which drops a table's implicit roles in some browsers, so the table, its row
 * groups, rows and cells carry explicit ones; this head gives them to the header row.
 */
export function CardTableHead({
  columns,
  actions = false,
}: {
  columns: readonly string[];
  actions?: boolean;
}) {
  return (
    <thead role="rowgroup">
      <tr role="row">
        {columns.map((c) => (
          <th key={c} scope="col" role="columnheader">
            {c}
          </th>
        ))}
        {actions && (
          <th scope="col" role="columnheader">
            <span className="visually-hidden">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}
