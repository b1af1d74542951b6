export function Status({ value, label }: { value: string; label?: string }) {
  return (
    <span className={`status status-${value}`} data-status={value}>
      {label ?? value}
    </span>
  );
}
