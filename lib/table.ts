import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_DEFINITION, type KeyAttribute } from '../functions/core/shared/table.js';

const attribute = (key: KeyAttribute) => ({ name: key.name, type: key.type === 'N' ? AttributeType.NUMBER : AttributeType.STRING });

/**
 * The attribute DynamoDB's TTL reads (epoch seconds): instance actions and deleted instances carry
 * it and expire on their own; an item without it never does.
 */
export const TTL_ATTRIBUTE = TABLE_DEFINITION.ttlAttribute;

export interface OperationsTableProps {
  /** Deletion protection and RETAIN; turn off only for throwaway stacks (LocalStack, dev). */
  readonly deletionProtection: boolean;
}

/**
 * The one table, created from TABLE_DEFINITION (functions/core/shared/table.ts), the definition the local
 * runtime creates its table from too: pk/sk, the project index, the sparse lease index.
 */
export class OperationsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: OperationsTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: attribute(TABLE_DEFINITION.partitionKey),
      sortKey: attribute(TABLE_DEFINITION.sortKey),
      // On-demand: claims come in bursts (50 conflicting requests at once); no capacity to plan.
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // Encrypted at rest with DynamoDB's own key (the default): no KMS charge on every claim.
      deletionProtection: props.deletionProtection,
      // The table is the system of record: a stack deletion must not take it along.
      removalPolicy: props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of TABLE_DEFINITION.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: attribute(index.partitionKey),
        sortKey: attribute(index.sortKey),
        projectionType: ProjectionType[index.projection],
      });
    }
  }

  /** The ARN of one index, for a grant that names exactly the index a function queries. */
  indexArn(indexName: string): string {
    return `${this.table.tableArn}/index/${indexName}`;
  }
}
